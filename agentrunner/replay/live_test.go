package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/loadgen"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/workload"
)

// exchange is one chat request seen by recordingProxy and its response.
type exchange struct {
	session string
	body    []byte

	mu   sync.Mutex
	resp bytes.Buffer
}

func (e *exchange) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.resp.Write(p)
}

// messages decodes the request's messages as the simulated engine does.
func (e *exchange) messages(t *testing.T) []sim.Message {
	t.Helper()
	var req struct {
		Messages []sim.Message `json:"messages"`
	}
	if err := json.Unmarshal(e.body, &req); err != nil {
		t.Fatalf("request body: %v", err)
	}
	return req.Messages
}

// answer is the content text of the streamed response.
func (e *exchange) answer(t *testing.T) string {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	d := loadgen.NewSSEDecoder(bytes.NewReader(e.resp.Bytes()), loadgen.NewClock(time.Now()), 0, 0)
	var text []byte
	var ch loadgen.Chunk
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			return string(text)
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.IsDone() {
			continue
		}
		if err := loadgen.ParseChunk(ev.Data, &ch); err != nil {
			t.Fatal(err)
		}
		text, _ = metrics.AppendJSONStringText(text, ch.Content)
	}
}

type exchangeKey struct{}

// recordingProxy forwards to target and keeps every chat request's body
// and streamed response.
type recordingProxy struct {
	mu  sync.Mutex
	exs []*exchange
}

func startRecordingProxy(t *testing.T, target string) (*recordingProxy, string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ModifyResponse = func(resp *http.Response) error {
		if ex, ok := resp.Request.Context().Value(exchangeKey{}).(*exchange); ok {
			resp.Body = struct {
				io.Reader
				io.Closer
			}{io.TeeReader(resp.Body, ex), resp.Body}
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/chat/completions" {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			ex := &exchange{session: r.Header.Get("X-Session-ID"), body: body}
			p.mu.Lock()
			p.exs = append(p.exs, ex)
			p.mu.Unlock()
			r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex))
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return p, srv.URL
}

// bySession groups the exchanges by session, in arrival order.
func (p *recordingProxy) bySession() map[string][]*exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string][]*exchange{}
	for _, ex := range p.exs {
		out[ex.session] = append(out[ex.session], ex)
	}
	return out
}

// literalOnlyWorkload is one literal-text chat trajectory: a system prompt,
// a user message, then each turn appends an assistant message (text and a
// tool call) and the tool's result.
func literalOnlyWorkload(t *testing.T) *workload.Workload {
	return genWorkload(t, genOpts{trajectories: 0, turns: 4, output: 6, literal: true})
}

// runOneAgent runs one agent until it has sent every turn of a trajectory
// in one session (after its warm start), and returns its records.
func runOneAgent(t *testing.T, url string, w *workload.Workload, history string) []metrics.Request {
	t.Helper()
	rules, prof := testRules(t)
	rec := &memRecorder{}
	r, err := New(context.Background(), Config{
		Endpoint: url, Workload: w, Rules: rules, Profile: prof, Tiers: []string{"t20"}, Seed: 7,
		History: history, Template: simTemplate, AffinityHeader: "X-Session-ID", Recorder: rec, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.ProbesFile().History; got != history {
		t.Errorf("probes.json history %q, want %q", got, history)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.start(ctx); err != nil {
		t.Fatal(err)
	}
	r.setAgents(ctx, 1, 0)
	turns := len(w.Trajectories[0].Turns)
	for ctx.Err() == nil {
		full := map[string]int{}
		for _, x := range rec.all() {
			if x.Turn == 0 || full[x.Session] > 0 {
				full[x.Session]++
			}
		}
		if slices.Contains(slices.Collect(mapValues(full)), turns) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.finish()
	if ctx.Err() != nil {
		t.Fatal("the agent did not replay a whole trajectory in time")
	}
	return rec.all()
}

func mapValues(m map[string]int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

// TestLiveHistoryAgainstSim: with live history each later turn of a
// literal-text session carries the server's earlier answers in place of
// the recorded assistant text (recorded tool calls kept), and its
// target_prompt_tokens counts them; with recorded history the request
// carries the trace's text and the workload's target.
func TestLiveHistoryAgainstSim(t *testing.T) {
	w := literalOnlyWorkload(t)
	tr := w.Trajectories[0]
	for _, history := range []string{HistoryLive, HistoryRecorded} {
		t.Run(history, func(t *testing.T) {
			proxy, url := startRecordingProxy(t, startSim(t, "tiny", nil))
			recs := runOneAgent(t, url, w, history)
			sessions := proxy.bySession()
			recsBy := map[string][]metrics.Request{}
			for _, x := range recs {
				recsBy[x.Session] = append(recsBy[x.Session], x)
			}
			checked := 0
			for session, exs := range sessions {
				rs := recsBy[session]
				slices.SortFunc(rs, func(a, b metrics.Request) int { return int(a.TSendNs - b.TSendNs) })
				if len(rs) != len(exs) {
					t.Fatalf("session %s: %d records, %d requests seen", session, len(rs), len(exs))
				}
				var answers []string // this session's answers so far
				var positions []int  // where each answer goes in later turns
				var recordedTexts []string
				for i, ex := range exs {
					k := rs[i].Turn
					turn := &tr.Turns[k]
					msgs := ex.messages(t)
					if len(msgs) != len(turn.Input) {
						t.Fatalf("session %s turn %d: %d messages, the workload has %d", session, k, len(msgs), len(turn.Input))
					}
					wantTarget := workload.TargetPromptTokens(turn, simTemplate)
					for j := range turn.Input {
						seg := &turn.Input[j]
						if seg.Role != "assistant" {
							if msgs[j].Content != seg.Text && !strings.Contains(msgs[j].Content, seg.Text) {
								t.Errorf("session %s turn %d message %d: %q, recorded %q", session, k, j, msgs[j].Content, seg.Text)
							}
							continue
						}
						if len(msgs[j].ToolCalls) != len(seg.ToolCalls) || msgs[j].ToolCalls[0].Function.Name != seg.ToolCalls[0].Name ||
							msgs[j].ToolCalls[0].Function.Arguments != seg.ToolCalls[0].Arguments {
							t.Errorf("session %s turn %d message %d: tool calls %+v, recorded %+v", session, k, j, msgs[j].ToolCalls, seg.ToolCalls)
						}
						want := seg.Text
						if a := slices.Index(positions, j); a >= 0 && history == HistoryLive {
							want = answers[a]
							wantTarget += workload.EstimateTokens(answers[a]) - workload.EstimateTokens(recordedTexts[a])
							checked++
						}
						if msgs[j].Content != want {
							t.Errorf("session %s turn %d message %d: assistant text %q, want %q", session, k, j, msgs[j].Content, want)
						}
					}
					if rs[i].TargetPromptTokens != wantTarget {
						t.Errorf("session %s turn %d: target_prompt_tokens %d, want %d", session, k, rs[i].TargetPromptTokens, wantTarget)
					}
					if rs[i].Status != metrics.StatusOK {
						t.Fatalf("session %s turn %d: %s %s", session, k, rs[i].Status, rs[i].Error)
					}
					if d := rs[i].PromptTokens - rs[i].TargetPromptTokens; d > 64 || d < -64 {
						t.Errorf("session %s turn %d: prompt_tokens %d, target %d", session, k, rs[i].PromptTokens, rs[i].TargetPromptTokens)
					}
					a := ex.answer(t)
					if len(strings.Fields(a)) != turn.OutputTokens {
						t.Errorf("session %s turn %d: answer %q is not %d words", session, k, a, turn.OutputTokens)
					}
					if k+1 < len(tr.Turns) {
						answers = append(answers, a)
						positions = append(positions, len(turn.Input))
						recordedTexts = append(recordedTexts, tr.Turns[k+1].Input[len(turn.Input)].Text)
					}
				}
			}
			if history == HistoryLive && checked < len(tr.Turns)*(len(tr.Turns)-1)/2 {
				t.Errorf("%d live answers checked in later turns, want at least %d (a whole session)", checked, len(tr.Turns)*(len(tr.Turns)-1)/2)
			}
		})
	}
}

// TestLiveMessagesRender: a live message replaces the recorded text of its
// segment, keeps the recorded role and tool calls, and leaves every other
// message and the salt alone.
func TestLiveMessagesRender(t *testing.T) {
	w := literalOnlyWorkload(t)
	tr := w.Trajectories[0]
	r := newRenderer(w)
	s := newSalt(5)
	const k = 2
	plan := r.plan(tr)
	h := newLiveHistory()
	h.answer.Content = []byte(`first "answer"`)
	h.answered(0, true)
	h.prepare(tr, plan, 1)
	h.answer.Content = []byte("second\nanswer")
	h.answered(1, true)
	h.prepare(tr, plan, k)
	if len(h.msgs) != 2 {
		t.Fatalf("%d live messages at turn %d, want 2", len(h.msgs), k)
	}
	rec := decodeMessages(t, r.messages(nil, tr, k, s, nil))
	live := decodeMessages(t, r.messages(nil, tr, k, s, h.msgs))
	want := slices.Clone(rec)
	want[len(tr.Turns[0].Input)].Content = `first "answer"`
	want[len(tr.Turns[1].Input)].Content = "second\nanswer"
	for i := range want {
		if live[i].Role != want[i].Role || live[i].Content != want[i].Content || len(live[i].ToolCalls) != len(want[i].ToolCalls) || live[i].ToolCallID != want[i].ToolCallID {
			t.Errorf("message %d: %+v, want %+v", i, live[i], want[i])
		}
	}
	recText := tr.Turns[k].Input[len(tr.Turns[0].Input)].Text
	wantDelta := 2*(-workload.EstimateTokens(recText)) + workload.EstimateTokens(`first "answer"`) + workload.EstimateTokens("second\nanswer")
	if got := h.delta(); got != wantDelta {
		t.Errorf("delta %d, want %d", got, wantDelta)
	}
	// An answer that did not end ok is not used.
	h.answered(k, false)
	h.prepare(tr, plan, k+1)
	if len(h.msgs) != 2 {
		t.Errorf("%d live messages after a failed answer, want the 2 earlier ones", len(h.msgs))
	}
}

// TestLiveHistoryRefusesBlocks: live history is refused for a trajectory
// of a hashed-block source, naming it and the source.
func TestLiveHistoryRefusesBlocks(t *testing.T) {
	rules, prof := testRules(t)
	tests := []struct {
		name string
		w    *workload.Workload
		want string
	}{
		{"blocks", smallWorkload(t, false), `trajectory t00 (source gen:0000000000000001: hashed blocks of 16 tokens)`},
		{"blocks beside literal", genWorkload(t, genOpts{trajectories: 1, turns: 2, blockSize: 16, firstBlocks: 2, output: 4, literal: true}), "trajectory t00"},
		{"literal only", literalOnlyWorkload(t), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Endpoint: "http://x", Workload: tc.w, Rules: rules, Profile: prof, History: HistoryLive}
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `history "live" needs literal-text sources`)):
				t.Errorf("err = %v, want ErrConfig naming %q", err, tc.want)
			}
		})
	}
}
