package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/agentwatt/agentwatt/metrics"
)

// checkLeaks fails the test if goroutines it started outlive it and its
// cleanups (registered first, so it runs last).
func checkLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// sseServer serves stream as an event stream, one byte per write and
// flush, so that every event reaches the client split across many reads.
// Each request's decoded JSON body and headers are sent on reqs.
type sseServer struct {
	*httptest.Server
	reqs chan capturedRequest
}

type capturedRequest struct {
	Body   map[string]any
	Header http.Header
	Proto  string
}

func newSSEServer(t *testing.T, handler func(w http.ResponseWriter, r *http.Request)) *sseServer {
	t.Helper()
	s := &sseServer{reqs: make(chan capturedRequest, 64)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			fmt.Fprint(w, `{"object":"list","data":[{"id":"test-model","object":"model"}]}`)
			return
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
			return
		}
		select {
		case s.reqs <- capturedRequest{Body: body, Header: r.Header.Clone(), Proto: r.Proto}:
		default:
		}
		handler(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// writeBytewise writes stream one byte per flush.
func writeBytewise(w http.ResponseWriter, stream string) {
	f := w.(http.Flusher)
	for i := 0; i < len(stream); i++ {
		if _, err := w.Write([]byte{stream[i]}); err != nil {
			return
		}
		f.Flush()
	}
}

func eventStream(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
}

func replay(stream string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		eventStream(w)
		writeBytewise(w, stream)
	}
}

func readStream(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/streams/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newTestClient(t *testing.T, url string, mod func(*ClientConfig)) *Client {
	t.Helper()
	cfg := ClientConfig{Endpoint: url, Model: "m", Temperature: 0.6, TopP: 0.95, Clock: NewClock(time.Now()),
		AffinityHeader: "X-Session-ID"}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func chatRequest(maxTokens int) *ChatRequest {
	return &ChatRequest{
		Messages:  [][]byte{[]byte(`[{"role":"user","content":"`), []byte("hello"), []byte(`"}]`)},
		MaxTokens: maxTokens, Session: "sess-1",
	}
}

func ev(data string) string { return "data: " + data + "\n\n" }

const (
	roleChunk  = `{"choices":[{"delta":{"role":"assistant","content":""}}]}`
	doneEvent  = "data: [DONE]\n\n"
	usageFmt   = `{"choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d%s}}`
	finishLen  = `{"choices":[{"delta":{},"finish_reason":"length"}]}`
	finishStop = `{"choices":[{"delta":{},"finish_reason":"stop"}]}`
)

func content(s string) string { return fmt.Sprintf(`{"choices":[{"delta":{"content":%q}}]}`, s) }

func usage(prompt, completion int, details string) string {
	return fmt.Sprintf(usageFmt, prompt, completion, details)
}

func TestClientStreams(t *testing.T) {
	checkLeaks(t)
	tests := []struct {
		name       string
		handler    func(http.ResponseWriter, *http.Request)
		maxTokens  int
		status     string
		errHas     string
		completion int
		prompt     int
		chunks     int
		cached     metrics.OptionalInt
		source     string
	}{
		{"vLLM content stream", replay(readStream(t, "vllm_content.sse")), 6,
			metrics.StatusOK, "", 6, 12, 5, metrics.Int(0), metrics.TokenSourceUsage},
		{"TensorRT-LLM trailing spaces and null cached_tokens", replay(readStream(t, "trtllm_trailing_space.sse")), 4,
			metrics.StatusOK, "", 4, 9, 3, metrics.OptionalInt{}, metrics.TokenSourceUsage},
		{"SGLang reasoning_content, CRLF, pings, usage on the finish chunk", replay(readStream(t, "sglang_reasoning_crlf.sse")), 6,
			metrics.StatusOK, "", 6, 30, 6, metrics.OptionalInt{}, metrics.TokenSourceUsage},
		{"tool calls and reasoning, [DONE] missing", replay(readStream(t, "toolcalls_no_done.sse")), 20,
			metrics.StatusError, "before [DONE]", 20, 100, 3, metrics.OptionalInt{}, metrics.TokenSourceUsage},
		{"error event after HTTP 200", replay(readStream(t, "error_after_200.sse")), 5,
			metrics.StatusError, "stream error: CUDA out of memory", 1, 0, 1, metrics.OptionalInt{}, metrics.TokenSourceClient},
		{"several tokens per chunk", replay(ev(roleChunk) + ev(content("one two three")) + ev(content("four five")) + ev(finishLen) +
			ev(usage(7, 5, "")) + doneEvent), 5,
			metrics.StatusOK, "", 5, 7, 2, metrics.OptionalInt{}, metrics.TokenSourceUsage},
		{"cached_tokens present", replay(ev(content("a")) + ev(content("b")) + ev(usage(70, 2, `,"prompt_tokens_details":{"cached_tokens":64}`)) + doneEvent), 2,
			metrics.StatusOK, "", 2, 70, 2, metrics.Int(64), metrics.TokenSourceUsage},
		{"cached_tokens null", replay(ev(content("a")) + ev(content("b")) + ev(usage(70, 2, `,"prompt_tokens_details":{"cached_tokens":null}`)) + doneEvent), 2,
			metrics.StatusOK, "", 2, 70, 2, metrics.OptionalInt{}, metrics.TokenSourceUsage},
		{"stops before min_tokens", replay(ev(roleChunk) + ev(content("a")) + ev(content("b")) + ev(finishStop) + ev(usage(7, 2, "")) + doneEvent), 10,
			metrics.StatusTruncated, "stopped after 2 of 10", 2, 7, 2, metrics.OptionalInt{}, metrics.TokenSourceUsage},
		{"no usage: client count, finish length", replay(ev(content("a")) + ev(content("b")) + ev(finishLen) + doneEvent), 2,
			metrics.StatusOK, "", 2, 0, 2, metrics.OptionalInt{}, metrics.TokenSourceClient},
		{"no usage and no length finish", replay(ev(content("a")) + ev(finishStop) + doneEvent), 2,
			metrics.StatusTruncated, "no usage", 1, 0, 1, metrics.OptionalInt{}, metrics.TokenSourceClient},
		{"usage but no output event", replay(ev(roleChunk) + ev(usage(7, 3, "")) + doneEvent), 3,
			metrics.StatusError, "no event carried output", 3, 7, 0, metrics.OptionalInt{}, metrics.TokenSourceUsage},
		{"malformed event", replay(ev(content("a")) + ev(`{"choices":[`) + doneEvent), 2,
			metrics.StatusError, "malformed chunk", 1, 0, 1, metrics.OptionalInt{}, metrics.TokenSourceClient},
		{"closed inside an event", replay(ev(content("a")) + "data: {\"cho"), 2,
			metrics.StatusError, "inside an event", 1, 0, 1, metrics.OptionalInt{}, metrics.TokenSourceClient},
		{"HTTP 503 with a JSON body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"message":"server overloaded","type":"ServiceUnavailableError","code":503}}`)
		}, 2, metrics.StatusError, "http 503: server overloaded", 0, 0, 0, metrics.OptionalInt{}, metrics.TokenSourceClient},
		{"HTTP 400 with a FastAPI detail body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"detail":"max_tokens too large"}`)
		}, 2, metrics.StatusError, `http 400: {"detail":"max_tokens too large"}`, 0, 0, 0, metrics.OptionalInt{}, metrics.TokenSourceClient},
		{"HTTP 200 that is not an event stream", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"choices":[{"message":{"content":"hi"}}]}`)
		}, 2, metrics.StatusError, "unexpected content type", 0, 0, 0, metrics.OptionalInt{}, metrics.TokenSourceClient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSSEServer(t, tc.handler)
			c := newTestClient(t, srv.URL, nil)
			rec := metrics.Request{Agent: 4, Turn: 2, Trajectory: "tr", TargetPromptTokens: 11}
			if _, err := c.Stream(context.Background(), chatRequest(tc.maxTokens), &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Status != tc.status || !strings.Contains(rec.Error, tc.errHas) || (tc.errHas == "" && rec.Error != "") {
				t.Fatalf("status %q error %q, want %q with %q", rec.Status, rec.Error, tc.status, tc.errHas)
			}
			if rec.CompletionTokens != tc.completion || rec.PromptTokens != tc.prompt || rec.Chunks != tc.chunks ||
				rec.CachedTokens != tc.cached || rec.TokenCountSource != tc.source {
				t.Fatalf("record %+v", rec)
			}
			if rec.Agent != 4 || rec.Turn != 2 || rec.Trajectory != "tr" || rec.TargetPromptTokens != 11 || rec.TargetCompletionTokens != tc.maxTokens {
				t.Fatalf("identity fields not kept: %+v", rec)
			}
			if rec.TSendNs <= 0 || rec.TLastNs < rec.TSendNs || (rec.Chunks > 0) != (rec.TFirstNs > 0) ||
				(rec.TFirstNs > 0 && (rec.TFirstNs < rec.TSendNs || rec.TLastNs < rec.TFirstNs)) {
				t.Fatalf("times send %d first %d last %d", rec.TSendNs, rec.TFirstNs, rec.TLastNs)
			}
		})
	}
}

func TestClientRequestBody(t *testing.T) {
	srv := newSSEServer(t, replay(ev(content("a"))+ev(usage(3, 1, ""))+doneEvent))
	c := newTestClient(t, srv.URL+"/v1/", nil)
	var rec metrics.Request
	if _, err := c.Stream(context.Background(), chatRequest(1), &rec); err != nil {
		t.Fatal(err)
	}
	got := <-srv.reqs
	want := map[string]any{
		"model": "m", "stream": true, "stream_options": map[string]any{"include_usage": true},
		"max_tokens": 1.0, "min_tokens": 1.0, "ignore_eos": true, "temperature": 0.6, "top_p": 0.95,
		"messages": []any{map[string]any{"role": "user", "content": "hello"}},
	}
	if g, w := fmt.Sprint(got.Body), fmt.Sprint(want); g != w {
		t.Fatalf("body %s\nwant %s", g, w)
	}
	if got.Proto != "HTTP/1.1" {
		t.Fatalf("proto %s", got.Proto)
	}
	if got.Header.Get("X-Session-ID") != "sess-1" || got.Header.Get("Accept") != "text/event-stream" ||
		got.Header.Get("Accept-Encoding") != "" {
		t.Fatalf("headers %v", got.Header)
	}
}

// TestClientTTFTSkipsRoleChunk: the role-only chunk arrives at once, the
// first content 80 ms later; TTFT is measured to the content.
func TestClientTTFTSkipsRoleChunk(t *testing.T) {
	srv := newSSEServer(t, func(w http.ResponseWriter, _ *http.Request) {
		eventStream(w)
		writeBytewise(w, ev(roleChunk))
		time.Sleep(80 * time.Millisecond)
		writeBytewise(w, ev(content("a")))
		time.Sleep(50 * time.Millisecond)
		writeBytewise(w, ev(content("b"))+ev(usage(3, 2, ""))+doneEvent)
	})
	c := newTestClient(t, srv.URL, nil)
	rec := metrics.Request{}
	if _, err := c.Stream(context.Background(), &ChatRequest{Messages: [][]byte{[]byte("[]")}, MaxTokens: 2, RecordChunks: true}, &rec); err != nil {
		t.Fatal(err)
	}
	ttft := metrics.TTFT(rec.TSendNs, rec.TFirstNs)
	if ttft < 80*time.Millisecond || ttft > 2*time.Second {
		t.Fatalf("TTFT %v, want ≥ 80 ms (the role chunk must not count)", ttft)
	}
	if gap := time.Duration(rec.TLastNs - rec.TFirstNs); gap < 50*time.Millisecond {
		t.Fatalf("decode interval %v, want ≥ 50 ms", gap)
	}
	if len(rec.ChunkOffsetsNs) != 2 || rec.ChunkOffsetsNs[0] != rec.TFirstNs-rec.TSendNs || rec.ChunkOffsetsNs[1] != rec.TLastNs-rec.TSendNs {
		t.Fatalf("chunk offsets %v (first %d last %d)", rec.ChunkOffsetsNs, rec.TFirstNs-rec.TSendNs, rec.TLastNs-rec.TSendNs)
	}
	rate, ok := metrics.DecodeRate(rec.CompletionTokens, rec.TFirstNs, rec.TLastNs)
	if !ok || rate > 20 {
		t.Fatalf("decode rate %v %v, want ≤ 20 tok/s for 1 token in ≥ 50 ms", rate, ok)
	}
}

// TestClientOneConnectionPerStream: concurrent streams each get their own
// HTTP/1.1 connection; sequential ones reuse a kept-alive connection.
func TestClientOneConnectionPerStream(t *testing.T) {
	checkLeaks(t)
	const streams = 16
	var mu sync.Mutex
	addrs := map[string]bool{}
	arrived := make(chan struct{}, streams)
	release := make(chan struct{})
	srv := newSSEServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		addrs[r.RemoteAddr] = true
		mu.Unlock()
		eventStream(w)
		w.(http.Flusher).Flush()
		arrived <- struct{}{}
		<-release
		fmt.Fprint(w, ev(content("a"))+ev(usage(1, 1, ""))+doneEvent)
	})
	c := newTestClient(t, srv.URL, nil)
	var wg sync.WaitGroup
	recs := make([]metrics.Request, streams)
	for i := range streams {
		wg.Go(func() {
			if _, err := c.Stream(context.Background(), chatRequest(1), &recs[i]); err != nil {
				t.Error(err)
			}
		})
	}
	for range streams {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("streams were not all in flight at once")
		}
	}
	close(release)
	wg.Wait()
	if len(addrs) != streams {
		t.Fatalf("%d connections for %d concurrent streams", len(addrs), streams)
	}
	for i, r := range recs {
		if r.Status != metrics.StatusOK {
			t.Fatalf("stream %d: %s %s", i, r.Status, r.Error)
		}
	}
	info, err := c.Stream(context.Background(), chatRequest(1), &metrics.Request{})
	if err != nil || !info.ReusedConn {
		t.Fatalf("sequential request did not reuse a connection: %+v %v", info, err)
	}
}

func TestClientCancel(t *testing.T) {
	checkLeaks(t)
	srv := newSSEServer(t, func(w http.ResponseWriter, r *http.Request) {
		eventStream(w)
		writeBytewise(w, ev(content("a")))
		<-r.Context().Done()
	})
	c := newTestClient(t, srv.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	var rec metrics.Request
	_, err := c.Stream(ctx, chatRequest(5), &rec)
	if !errors.Is(err, context.Canceled) || rec.Status != metrics.StatusError || !strings.Contains(rec.Error, "canceled") {
		t.Fatalf("err %v record %s %q", err, rec.Status, rec.Error)
	}
}

func TestClientStallTimeout(t *testing.T) {
	checkLeaks(t)
	srv := newSSEServer(t, func(w http.ResponseWriter, r *http.Request) {
		eventStream(w)
		writeBytewise(w, ev(content("a")))
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	c := newTestClient(t, srv.URL, func(cfg *ClientConfig) { cfg.StallTimeout = 150 * time.Millisecond })
	var rec metrics.Request
	if _, err := c.Stream(context.Background(), chatRequest(5), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Status != metrics.StatusError || !strings.Contains(rec.Error, "stall timeout") || rec.Chunks != 1 {
		t.Fatalf("record %s %q chunks %d", rec.Status, rec.Error, rec.Chunks)
	}
}

// TestClientMaxRequestTime: a server that streams empty events forever
// resets the stall timeout at every event and so held a request — and the
// probe waiting for its window's requests — open without end. The longest
// request time cuts it, recorded as an error.
func TestClientMaxRequestTime(t *testing.T) {
	checkLeaks(t)
	srv := newSSEServer(t, func(w http.ResponseWriter, r *http.Request) {
		eventStream(w)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				writeBytewise(w, ev(content("")))
			}
		}
	})
	c := newTestClient(t, srv.URL, func(cfg *ClientConfig) {
		cfg.StallTimeout = 150 * time.Millisecond
		cfg.MaxRequestTime = 300 * time.Millisecond
	})
	// A failure guard: the request must end on its own, long before this.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rec metrics.Request
	if _, err := c.Stream(ctx, chatRequest(5), &rec); err != nil {
		t.Fatalf("the request was never cut: %v", err)
	}
	if rec.Status != metrics.StatusError || !strings.Contains(rec.Error, "longest request time") {
		t.Fatalf("record %s %q", rec.Status, rec.Error)
	}
}

func TestClientUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := newTestClient(t, url, nil)
	var rec metrics.Request
	if _, err := c.Stream(context.Background(), chatRequest(5), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Status != metrics.StatusError || !strings.Contains(rec.Error, "request:") || rec.TLastNs < rec.TSendNs {
		t.Fatalf("record %+v", rec)
	}
}

func TestDiscoverModel(t *testing.T) {
	models := func(body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/models" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprint(w, body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tests := []struct {
		name, body, want string
		err              error
	}{
		{"one model", `{"data":[{"id":"deepseek-v4"}]}`, "deepseek-v4", nil},
		{"none", `{"data":[]}`, "", ErrNoModel},
		{"several", `{"data":[{"id":"a"},{"id":"b"}]}`, "", ErrAmbiguousModel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DiscoverModel(context.Background(), models(tc.body))
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("DiscoverModel = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
	srv := newSSEServer(t, replay(doneEvent))
	c, err := NewClient(context.Background(), ClientConfig{Endpoint: srv.URL, Clock: NewClock(time.Now())})
	if err != nil || c.Model() != "test-model" {
		t.Fatalf("NewClient without a model: %v %v", c, err)
	}
	c.CloseIdleConnections()
}

// TestClientBodyIsNotCopied: a request whose history is one 8 MiB shared
// segment allocates far less than the history's size.
func TestClientBodyIsNotCopied(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		eventStream(w)
		fmt.Fprint(w, ev(content(fmt.Sprint(n)))+ev(usage(1, 1, ""))+doneEvent)
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL, nil)
	history := []byte(strings.Repeat("a", 8<<20))
	req := &ChatRequest{Messages: [][]byte{[]byte(`[{"role":"user","content":"`), history, []byte(`"}]`)}, MaxTokens: 1}
	var rec metrics.Request
	if _, err := c.Stream(context.Background(), req, &rec); err != nil || rec.Status != metrics.StatusOK {
		t.Fatalf("%v %+v", err, rec)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 5
	for range n {
		if _, err := c.Stream(context.Background(), req, &rec); err != nil || rec.Status != metrics.StatusOK {
			t.Fatalf("%v %+v", err, rec)
		}
	}
	runtime.ReadMemStats(&after)
	// The server's io.Copy and the transport's buffers allocate too; a
	// copied history would add 8 MiB per request.
	if perReq := (after.TotalAlloc - before.TotalAlloc) / n; perReq > 2<<20 {
		t.Fatalf("%d bytes allocated per request with an 8 MiB history", perReq)
	}
}

func TestBody(t *testing.T) {
	segs := [][]byte{[]byte("ab"), nil, []byte("cde"), []byte("f")}
	b := NewBody(segs...)
	if b.Len() != 6 {
		t.Fatalf("Len = %d", b.Len())
	}
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "abcdef" {
		t.Fatalf("Read: %q %v", got, err)
	}
	var sb strings.Builder
	if n, err := b.Clone().WriteTo(&sb); err != nil || n != 6 || sb.String() != "abcdef" {
		t.Fatalf("WriteTo: %d %q %v", n, sb.String(), err)
	}
	small := make([]byte, 4)
	c := b.Clone()
	n, _ := c.Read(small)
	m, _ := c.Read(small[n:])
	if string(small[:n+m]) != "abcd" {
		t.Fatalf("partial reads: %q", small[:n+m])
	}
}
