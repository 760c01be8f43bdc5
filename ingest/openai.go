package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/agentwatt/agentwatt/workload"
)

// chatDoc is one conversation: a SWE-agent trajectory (history, trajectory)
// or a {"messages": [...]} record, optionally with usage for its final
// answer.
type chatDoc struct {
	History    *[]chatMessage `json:"history"`
	Messages   *[]chatMessage `json:"messages"`
	Trajectory []struct {
		ExecutionTime *float64 `json:"execution_time"`
	} `json:"trajectory"`
	Usage *chatUsage `json:"usage"`
}

type chatMessage struct {
	Role        string          `json:"role"`
	Content     json.RawMessage `json:"content"`
	ToolCalls   []chatToolCall  `json:"tool_calls"`
	ToolCallID  *string         `json:"tool_call_id"`
	ToolCallIDs []string        `json:"tool_call_ids"`
	Usage       *chatUsage      `json:"usage"`
	Extra       *struct {
		Response *struct {
			Usage *chatUsage `json:"usage"`
		} `json:"response"`
	} `json:"extra"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

type chatUsage struct {
	PromptTokens     *int `json:"prompt_tokens"`
	CompletionTokens *int `json:"completion_tokens"`
}

var chatRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true}

// convertOpenAIChat converts a SWE-agent .traj (one JSON object with
// "history") or a JSON/JSONL file of {"messages": [...]} records. Each
// assistant message ends a turn; the turn's input is every message before
// it as literal text, tool calls included. The output length is the
// message's usage.completion_tokens (or extra.response.usage, or a record's
// top-level usage for its final message) when present, else EstimateTokens
// of the message, flagged as estimated. Think time is the SWE-agent step's
// execution_time before the turn, when the trajectory records it, else 0.
func convertOpenAIChat(data []byte, path string, index int, src workload.Source, opts Options) (*converted, error) {
	c := &converted{src: src}
	c.src.Notes = "openai-chat: each assistant message ends a turn; input = all earlier messages as text; " +
		"output length from usage, else estimated (workload.EstimateTokens); think_s = SWE-agent execution_time"
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	trimmed := bytes.TrimSpace(data)
	var docs []*doc
	if json.Valid(trimmed) {
		docs = []*doc{{file: path, data: data, line: 1}}
	} else {
		line := 0
		for len(data) > 0 {
			line++
			var text []byte
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				text, data = data[:i], data[i+1:]
			} else {
				text, data = data, nil
			}
			if len(text) > opts.Limits.MaxLineBytes {
				return nil, &workload.FormatError{File: path, Line: line, Msg: fmt.Sprintf("line longer than %d bytes", opts.Limits.MaxLineBytes), Err: workload.ErrTooLarge}
			}
			if len(bytes.TrimSpace(text)) == 0 {
				continue
			}
			docs = append(docs, &doc{file: path, data: text, line: line})
		}
	}
	for _, d := range docs {
		var cd chatDoc
		if err := d.decode(&cd, opts.Limits.MaxNesting); err != nil {
			return nil, err
		}
		id := base
		if len(docs) > 1 {
			id = fmt.Sprintf("%s:%d", base, d.line)
		}
		t, n, err := chatTrajectory(d, &cd, c.src.ID+"/"+id, index)
		if err != nil {
			return nil, err
		}
		c.records += n
		c.trajectories = append(c.trajectories, t)
	}
	declared := map[*workload.Trajectory]int{}
	for _, t := range c.trajectories {
		declared[t] = leadingSystemTokens(t.Turns[0].Input)
	}
	setSharedPrefixes(c.trajectories, 0, declared, nil)
	return c, nil
}

func chatTrajectory(d *doc, cd *chatDoc, id string, source int) (*workload.Trajectory, int, error) {
	root := jpath{}
	var msgs []chatMessage
	var mp jpath
	switch {
	case cd.History != nil:
		msgs, mp = *cd.History, root.key("history")
	case cd.Messages != nil:
		msgs, mp = *cd.Messages, root.key("messages")
	default:
		return nil, 0, d.errorf(root, "neither \"history\" (SWE-agent) nor \"messages\" is present")
	}
	t := &workload.Trajectory{ID: id, Source: source}
	history := make([]workload.Segment, 0, len(msgs))
	assistants := 0
	for i := range msgs {
		m := &msgs[i]
		p := mp.idx(i)
		seg, err := chatSegment(d, m, p)
		if err != nil {
			return nil, 0, err
		}
		if m.Role == "assistant" {
			if len(history) == 0 {
				return nil, 0, d.errorf(p, "an assistant message with no messages before it")
			}
			tu := workload.Turn{Input: history[:len(history):len(history)], Output: &seg}
			if tu.InputTokens() == 0 {
				return nil, 0, d.errorf(p, "the messages before this assistant message hold no text")
			}
			switch u := messageUsage(m, cd, i == len(msgs)-1); {
			case u != nil:
				if *u < 0 || *u > maxTokens {
					return nil, 0, d.errorf(p.key("usage"), "completion_tokens %d is outside 0..%d", *u, maxTokens)
				}
				tu.OutputTokens = *u
			default:
				tu.OutputTokens, tu.OutputEstimated = seg.Tokens, true
			}
			if assistants > 0 && assistants-1 < len(cd.Trajectory) && len(cd.Trajectory) == countRole(msgs, "assistant") {
				if et := cd.Trajectory[assistants-1].ExecutionTime; et != nil {
					if err := seconds(*et); err != nil {
						return nil, 0, d.errorf(root.key("trajectory").idx(assistants-1).key("execution_time"), "%v", err)
					}
					tu.ThinkS = round3(*et)
				}
			}
			t.Turns = append(t.Turns, tu)
			assistants++
		}
		history = append(history, seg)
	}
	if assistants == 0 {
		return nil, 0, d.errorf(mp, "no assistant message, so no turn")
	}
	return t, assistants, nil
}

func chatSegment(d *doc, m *chatMessage, p jpath) (workload.Segment, error) {
	if !chatRoles[m.Role] {
		return workload.Segment{}, d.errorf(p.key("role"), "%q: want system, developer, user, assistant, tool or function", m.Role)
	}
	text, err := contentText(m.Content)
	if err != nil {
		return workload.Segment{}, d.errorf(p.key("content"), "%v", err)
	}
	seg := workload.Segment{Role: m.Role, Text: text}
	for k, tc := range m.ToolCalls {
		if tc.Function.Name == "" {
			return workload.Segment{}, d.errorf(p.key("tool_calls").idx(k).key("function").key("name"), "missing")
		}
		args, err := argumentsText(tc.Function.Arguments)
		if err != nil {
			return workload.Segment{}, d.errorf(p.key("tool_calls").idx(k).key("function").key("arguments"), "%v", err)
		}
		seg.ToolCalls = append(seg.ToolCalls, workload.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: args})
	}
	switch {
	case m.ToolCallID != nil && len(m.ToolCallIDs) > 0:
		return workload.Segment{}, d.errorf(p.key("tool_call_ids"), "both tool_call_id and tool_call_ids are set")
	case m.ToolCallID != nil:
		seg.ToolCallIDs = []string{*m.ToolCallID}
	case len(m.ToolCallIDs) > 0:
		seg.ToolCallIDs = m.ToolCallIDs
	}
	seg.Tokens = workload.EstimateMessageTokens(&seg)
	return seg, nil
}

// contentText accepts a string, null, or an array of content parts (text
// parts are joined with newlines; other parts are refused).
func contentText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", fmt.Errorf("want a string or an array of text parts")
	}
	var b strings.Builder
	for i, part := range parts {
		if part.Text == nil {
			return "", fmt.Errorf("part %d (type %q) has no text", i, part.Type)
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(*part.Text)
	}
	return b.String(), nil
}

// argumentsText accepts the OpenAI form (a JSON string) or a JSON object,
// kept as compact JSON text.
func argumentsText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	if raw[0] != '{' {
		return "", fmt.Errorf("want a JSON string or object")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", err
	}
	return b.String(), nil
}

func messageUsage(m *chatMessage, cd *chatDoc, last bool) *int {
	switch {
	case m.Usage != nil && m.Usage.CompletionTokens != nil:
		return m.Usage.CompletionTokens
	case m.Extra != nil && m.Extra.Response != nil && m.Extra.Response.Usage != nil && m.Extra.Response.Usage.CompletionTokens != nil:
		return m.Extra.Response.Usage.CompletionTokens
	case last && cd.Usage != nil && cd.Usage.CompletionTokens != nil:
		return cd.Usage.CompletionTokens
	}
	return nil
}

func countRole(msgs []chatMessage, role string) int {
	n := 0
	for i := range msgs {
		if msgs[i].Role == role {
			n++
		}
	}
	return n
}

// leadingSystemTokens is the agent's fixed prompt: the leading system (or
// developer) messages.
func leadingSystemTokens(in []workload.Segment) int {
	n := 0
	for i := range in {
		if in[i].IsBlocks() || (in[i].Role != "system" && in[i].Role != "developer") {
			break
		}
		n += in[i].Tokens
	}
	return n
}
