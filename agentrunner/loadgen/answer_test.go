package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/metrics"
)

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
