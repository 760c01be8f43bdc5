package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// tinyConfig is the tiny profile run fast (TimeScale 100), adjusted by mut.
func tinyConfig(t *testing.T, mut func(c *Config)) Config {
	t.Helper()
	p, err := DefaultProfile("tiny")
	if err != nil {
		t.Fatal(err)
	}
	c := Config{Profile: p, Seed: 1, TimeScale: 100}
	if mut != nil {
		mut(&c)
	}
	return c
}

// startSim starts a server on a loopback port and stops it at cleanup.
func startSim(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	srv, err := NewServer(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	url, err := srv.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return srv, url
}

// testClient is an HTTP client whose idle connections close at cleanup.
func testClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type testChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role    *string `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *testUsage `json:"usage"`
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    int    `json:"code"`
	} `json:"error"`
}

type testUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

// chatReq builds a request body; extra fields override the defaults.
func chatReq(stream bool, user string, extra map[string]any) map[string]any {
	b := map[string]any{
		"model":    "sim-tiny",
		"messages": []map[string]any{{"role": "system", "content": "you are a test"}, {"role": "user", "content": user}},
		"stream":   stream,
	}
	if stream {
		b["stream_options"] = map[string]any{"include_usage": true}
	}
	for k, v := range extra {
		if v == nil {
			delete(b, k)
			continue
		}
		b[k] = v
	}
	return b
}

func post(t *testing.T, c *http.Client, url string, body any) *http.Response {
	t.Helper()
	j, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Post(url+"/v1/chat/completions", "application/json", bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// complete sends a non-streaming request and decodes the answer.
func complete(t *testing.T, c *http.Client, url string, body any) (int, testChunk) {
	t.Helper()
	resp := post(t, c, url, body)
	defer resp.Body.Close()
	var ch testChunk
	if err := json.NewDecoder(resp.Body).Decode(&ch); err != nil {
		t.Fatalf("decode response (HTTP %d): %v", resp.StatusCode, err)
	}
	return resp.StatusCode, ch
}

// readSSE splits an SSE body into the payloads of its data: lines, checking
// the framing (every event one "data: " line and a blank line).
func readSSE(t *testing.T, r io.Reader) (events []string, err error) {
	t.Helper()
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" {
				return events, nil
			}
			return events, err
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("event line %q does not start with \"data: \"", line)
		}
		blank, err := br.ReadString('\n')
		if err != nil || blank != "\n" {
			t.Fatalf("event %q not followed by a blank line (got %q, %v)", line, blank, err)
		}
		events = append(events, strings.TrimSuffix(data, "\n"))
	}
}

// streamChat sends a streaming request and returns its events.
func streamChat(t *testing.T, url string, c *http.Client, body any) []string {
	t.Helper()
	resp := post(t, c, url, body)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("HTTP %d: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Content-Type %q, want text/event-stream", ct)
	}
	ev, err := readSSE(t, resp.Body)
	if err != nil {
		t.Fatalf("read stream: %v", err)
	}
	return ev
}

func parseChunk(t *testing.T, s string) testChunk {
	t.Helper()
	var ch testChunk
	if err := json.Unmarshal([]byte(s), &ch); err != nil {
		t.Fatalf("chunk %q: %v", s, err)
	}
	return ch
}

// streamSummary collects what a client would: text, finish reason, usage.
type streamSummary struct {
	text       string
	chunks     int // content chunks
	finish     string
	usage      *testUsage
	err        string
	done       bool
	roleFirst  bool
	usageChunk string
}

func summarize(t *testing.T, events []string) streamSummary {
	t.Helper()
	var s streamSummary
	for i, ev := range events {
		if ev == "[DONE]" {
			if i != len(events)-1 {
				t.Errorf("[DONE] is event %d of %d", i, len(events))
			}
			s.done = true
			continue
		}
		ch := parseChunk(t, ev)
		if ch.Error != nil {
			s.err = ch.Error.Message
			continue
		}
		if ch.Usage != nil && len(ch.Choices) == 0 {
			s.usage = ch.Usage
			s.usageChunk = ev
			continue
		}
		if len(ch.Choices) != 1 {
			t.Fatalf("event %d: %d choices", i, len(ch.Choices))
		}
		c := ch.Choices[0]
		if i == 0 {
			s.roleFirst = c.Delta.Role != nil && *c.Delta.Role == "assistant" && c.Delta.Content != nil && *c.Delta.Content == ""
			continue
		}
		if c.Delta.Content != nil {
			s.text += *c.Delta.Content
			s.chunks++
		}
		if c.FinishReason != nil {
			s.finish = *c.FinishReason
		}
	}
	return s
}
