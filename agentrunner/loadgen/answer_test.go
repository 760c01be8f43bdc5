package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/metrics"
)

func TestAppendJSONStringText(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"plain", `hello world`, "hello world"},
		{"simple escapes", `a\"b\\c\/d\be\ff\ng\rh\ti`, "a\"b\\c/d\be\ff\ng\rh\ti"},
		{"unicode escape", `caf\u00e9 \u4e2d`, "café 中"},
		{"surrogate pair", `\ud83d\ude00!`, "😀!"},
		{"lone high surrogate", `\ud83dx`, "\uFFFDx"},
		{"high surrogate then a non-surrogate escape", `\ud83d\u0041`, "\uFFFDA"},
		{"lone low surrogate", `\ude00`, "\uFFFD"},
		{"raw UTF-8", "né 😀", "né 😀"},
		{"invalid UTF-8 byte", "a\xffb", "a\uFFFDb"},
		{"empty", ``, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(AppendJSONStringText([]byte(">"), []byte(tc.raw)))
			if got != ">"+tc.want {
				t.Errorf("got %q, want %q", got, ">"+tc.want)
			}
			var ref string
			if err := json.Unmarshal([]byte(`"`+tc.raw+`"`), &ref); err != nil || ref != tc.want {
				t.Errorf("encoding/json reads %q (%v), the table says %q", ref, err, tc.want)
			}
		})
	}
}

// FuzzJSONStringText: for every string body encoding/json accepts,
// AppendJSONStringText decodes the same text.
func FuzzJSONStringText(f *testing.F) {
	for _, s := range []string{`a\"b`, `\ud83d\ude00`, `\ud83d`, `\udc00\ud800`, "\xff\xfe", `\u0000`, `x\\u0041`, "é"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ref string
		if json.Unmarshal(append(append([]byte(`"`), raw...), '"'), &ref) != nil {
			return
		}
		if got := string(AppendJSONStringText(nil, raw)); got != ref {
			t.Fatalf("AppendJSONStringText(%q) = %q, encoding/json %q", raw, got, ref)
		}
	})
}

// TestClientCapturesAnswer: with ChatRequest.Answer set, the answer's
// content text is captured across events, escapes decoded; reasoning and
// tool-call deltas are counted, not captured; a second request resets it.
func TestClientCapturesAnswer(t *testing.T) {
	reasoning := `{"choices":[{"delta":{"reasoning_content":"thinking"}}]}`
	toolCall := `{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"open","arguments":"{}"}}]}}]}`
	stream := ev(roleChunk) + ev(reasoning) + ev(content("Hello")) + ev(content(", \"wörld\"\n")) + ev(toolCall) +
		ev(content("😀")) + ev(finishLen) + ev(usage(10, 5, "")) + doneEvent
	srv := newSSEServer(t, replay(stream))
	c := newTestClient(t, srv.URL, nil)
	req := chatRequest(5)
	req.Answer = &Answer{Content: []byte("stale")}
	var rec metrics.Request
	if _, err := c.Stream(context.Background(), req, &rec); err != nil || rec.Status != metrics.StatusOK {
		t.Fatalf("%v %s %s", err, rec.Status, rec.Error)
	}
	got := *req.Answer
	if want := "Hello, \"wörld\"\n😀"; string(got.Content) != want || got.ReasoningEvents != 1 || got.ToolCallEvents != 1 {
		t.Fatalf("answer %q (reasoning %d, tool calls %d), want %q, 1, 1", got.Content, got.ReasoningEvents, got.ToolCallEvents, want)
	}
	if rec.Chunks != 5 {
		t.Errorf("%d output chunks, want 5 (capture must not change the record)", rec.Chunks)
	}
	if _, err := c.Stream(context.Background(), req, &rec); err != nil || string(req.Answer.Content) != string(got.Content) {
		t.Errorf("second request: answer %q, %v", req.Answer.Content, err)
	}
	plain := chatRequest(5)
	if _, err := c.Stream(context.Background(), plain, &rec); err != nil || plain.Answer != nil {
		t.Errorf("without capture: %v, answer %v", err, plain.Answer)
	}
}

// TestStreamAllocationsDoNotGrowWithEvents: a request's allocations are per
// request, not per event, with the answer capture off and (once its buffer
// has grown) on.
func TestStreamAllocationsDoNotGrowWithEvents(t *testing.T) {
	streams := map[int]string{}
	for _, n := range []int{10, 1000} {
		var b strings.Builder
		b.WriteString(ev(roleChunk))
		for i := range n {
			b.WriteString(ev(content(fmt.Sprintf(" w%d", i%10))))
		}
		b.WriteString(ev(finishLen) + ev(usage(10, n, "")) + doneEvent)
		streams[n] = b.String()
	}
	srv := newSSEServer(t, func(w http.ResponseWriter, r *http.Request) {
		eventStream(w)
		n, _ := strconv.Atoi(r.Header.Get("X-Session-ID"))
		fmt.Fprint(w, streams[n])
	})
	c := newTestClient(t, srv.URL, nil)
	for _, capture := range []bool{false, true} {
		allocs := map[int]float64{}
		for n := range streams {
			req := chatRequest(n)
			req.Session = fmt.Sprint(n)
			if capture {
				req.Answer = &Answer{}
			}
			var rec metrics.Request
			allocs[n] = testing.AllocsPerRun(20, func() {
				if _, err := c.Stream(context.Background(), req, &rec); err != nil || rec.Status != metrics.StatusOK {
					t.Fatalf("%v %s %s", err, rec.Status, rec.Error)
				}
			})
		}
		t.Logf("capture %v: %v", capture, allocs)
		// 990 more events; the transport's own bookkeeping varies by a few.
		if d := allocs[1000] - allocs[10]; d > 8 {
			t.Errorf("capture %v: %.0f allocations for 10 events, %.0f for 1000", capture, allocs[10], allocs[1000])
		}
	}
}
