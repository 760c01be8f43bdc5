package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Message is one chat message of an OpenAI chat-completions request. Content
// arrives as a string or as an array of content parts; Content holds the
// string form, Parts the array form (only "text" parts are accepted).
type Message struct {
	Role       string
	Content    string
	Parts      []ContentPart
	ToolCalls  []ToolCall
	ToolCallID string
	Name       string
}

// ContentPart is one element of an array-form message content.
type ContentPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// ToolCall is an assistant message's call of a tool.
type ToolCall struct {
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function ToolFunction `json:"function"`
}

// ToolFunction names the called function and carries its JSON arguments as a
// string, as the OpenAI API does.
type ToolFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type messageJSON struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content,omitempty"`
	ToolCalls  []ToolCall      `json:"tool_calls,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
	Name       string          `json:"name,omitempty"`
}

// UnmarshalJSON accepts content as a string, null, absent, or an array of
// {"type":"text","text":…} parts.
func (m *Message) UnmarshalJSON(b []byte) error {
	var raw messageJSON
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*m = Message{Role: raw.Role, ToolCalls: raw.ToolCalls, ToolCallID: raw.ToolCallID, Name: raw.Name}
	c := bytes.TrimSpace(raw.Content)
	switch {
	case len(c) == 0 || bytes.Equal(c, []byte("null")):
	case c[0] == '"':
		return json.Unmarshal(c, &m.Content)
	case c[0] == '[':
		if err := json.Unmarshal(c, &m.Parts); err != nil {
			return fmt.Errorf("content parts: %w", err)
		}
		for i, p := range m.Parts {
			if p.Type != "text" {
				return fmt.Errorf("content[%d]: part type %q is not supported by the simulated engine (only \"text\")", i, p.Type)
			}
		}
	default:
		return fmt.Errorf("content: want a string, null or an array of parts")
	}
	return nil
}

// MarshalJSON writes content as a string, or as parts when Parts is set.
func (m Message) MarshalJSON() ([]byte, error) {
	raw := messageJSON{Role: m.Role, ToolCalls: m.ToolCalls, ToolCallID: m.ToolCallID, Name: m.Name}
	var err error
	if m.Parts != nil {
		raw.Content, err = json.Marshal(m.Parts)
	} else {
		raw.Content, err = json.Marshal(m.Content)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(raw)
}
