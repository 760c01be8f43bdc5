package workload_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/workload"
)

// simTemplate is the simulated engine's chat-template overhead.
var simTemplate = workload.ChatTemplate{
	PerRequest:  sim.TemplateTokensPerRequest,
	PerMessage:  sim.TemplateTokensPerMessage,
	PerToolCall: sim.TemplateTokensPerToolCall,
}

func synthesize(t *testing.T, o workload.SynthOptions) *workload.Workload {
	t.Helper()
	w, err := workload.Synthesize(o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func encode(t *testing.T, w *workload.Workload) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := w.Write(&buf, workload.Uncompressed()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSynthesizeIsLabelledSynthetic(t *testing.T) {
	for _, literal := range []bool{false, true} {
		o := workload.DefaultSynthOptions()
		o.Literal = literal
		h := synthesize(t, o).Header
		src := h.Sources[0]
		tests := []struct {
			name      string
			got, want any
		}{
			{"created_by", h.CreatedBy, "agentwatt workload synth/1"},
			{"source format", src.Format, "synthetic"},
			{"licence", src.Licence, "ISC"},
			{"source id prefix", strings.HasPrefix(src.ID, "synthetic:"), true},
			{"description says synthetic", strings.Contains(h.Description, "SYNTHETIC"), true},
			{"description has the parameters", strings.Contains(h.Description, "16 trajectories × 6 turns"), true},
			{"notes say synthetic", strings.Contains(src.Notes, "SYNTHETIC"), true},
			{"seed", h.Seed, uint64(1)},
		}
		for _, tt := range tests {
			if tt.got != tt.want {
				t.Errorf("literal=%t: %s = %v, want %v", literal, tt.name, tt.got, tt.want)
			}
		}
	}
}

func TestSynthesizeDefaultsFitSimTiny(t *testing.T) {
	tiny, err := sim.DefaultProfile("tiny")
	if err != nil {
		t.Fatal(err)
	}
	for _, literal := range []bool{false, true} {
		for _, subagents := range []int{0, 1} {
			o := workload.DefaultSynthOptions()
			o.Literal, o.Subagents = literal, subagents
			w := synthesize(t, o)
			// What the sim actually receives: template, salt, prompt, and
			// the answer it must fit beside it.
			longest := 0
			for _, tr := range w.Trajectories {
				tr.Walk(func(tr *workload.Trajectory, _ int) {
					for k := range tr.Turns {
						longest = max(longest, workload.TargetPromptTokens(&tr.Turns[k], simTemplate)+tr.Turns[k].OutputTokens)
					}
				})
			}
			// "Comfortably": a quarter of the window, so that many agents
			// fit the KV cache too.
			if longest > tiny.MaxModelLen/4 {
				t.Errorf("literal=%t subagents=%d: longest request %d tokens, want ≤ %d (a quarter of tiny's max_model_len %d)",
					literal, subagents, longest, tiny.MaxModelLen/4, tiny.MaxModelLen)
			}
			if st := workload.StatsOf(w); st.MaxContextTokens >= longest || st.MaxContextTokens < longest-64 {
				t.Errorf("literal=%t subagents=%d: stats max context %d, requests reach %d with template and salt",
					literal, subagents, st.MaxContextTokens, longest)
			}
		}
	}
}

func TestSynthesizeReadsBack(t *testing.T) {
	for _, literal := range []bool{false, true} {
		o := workload.DefaultSynthOptions()
		o.Literal, o.Subagents = literal, 1
		w := synthesize(t, o)
		path := filepath.Join(t.TempDir(), "synth.jsonl.zst")
		d, err := w.WriteFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := workload.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		st, err := workload.ComputeStats(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		back, err := workload.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name      string
			got, want any
		}{
			{"file digest", d, w.Digest},
			{"stats digest", st.Digest, w.Digest},
			{"loaded digest", back.Digest, w.Digest},
			{"re-encoded bytes", string(encode(t, back)), string(encode(t, w))},
			{"trajectories", st.Trajectories, 16},
			{"subagents", st.Subagents, 16},
			{"turns", st.Turns, 16*6 + 16*3},
			{"turns per trajectory", st.TurnsPerTrajectory, workload.Spread{P50: 6, P90: 6, Max: 6}},
			{"think p50", st.ThinkTimeS.P50, 0.1},
			{"shared prefix p50", st.SharedPrefixTokens.P50, int64(512)},
			{"source format", st.Sources[0].Format, "synthetic"},
			{"source records", back.Header.Sources[0].Records, st.Turns},
		}
		for _, tt := range tests {
			if tt.got != tt.want {
				t.Errorf("literal=%t: %s = %v, want %v", literal, tt.name, tt.got, tt.want)
			}
		}
	}
}

func TestSynthesizeIsDeterministic(t *testing.T) {
	for _, literal := range []bool{false, true} {
		o := workload.DefaultSynthOptions()
		o.Literal, o.Subagents = literal, 2
		a, b := synthesize(t, o), synthesize(t, o)
		if a.Digest != b.Digest || !bytes.Equal(encode(t, a), encode(t, b)) {
			t.Errorf("literal=%t: same options gave digests %s and %s", literal, a.Digest, b.Digest)
		}
		// Compressed files are byte-identical too.
		dir := t.TempDir()
		pa, pb := filepath.Join(dir, "a.jsonl.zst"), filepath.Join(dir, "b.jsonl.zst")
		if _, err := a.WriteFile(pa); err != nil {
			t.Fatal(err)
		}
		if _, err := b.WriteFile(pb); err != nil {
			t.Fatal(err)
		}
		if fa, fb := readFile(t, pa), readFile(t, pb); !bytes.Equal(fa, fb) {
			t.Errorf("literal=%t: the same options wrote different files", literal)
		}
		o.Seed++
		if c := synthesize(t, o); c.Digest == a.Digest {
			t.Errorf("literal=%t: seeds %d and %d gave the same digest", literal, o.Seed-1, o.Seed)
		}
		// The name is a label, not content.
		o.Seed--
		o.Name = "other"
		c := synthesize(t, o)
		if c.Header.Sources[0].ID != a.Header.Sources[0].ID {
			t.Errorf("literal=%t: renaming changed the source id (and so the text)", literal)
		}
	}
}

// TestSynthesizeTokenCountsAreExact renders every prompt and counts its
// words: the sim's whitespace tokenizer must see exactly the recorded count.
func TestSynthesizeTokenCountsAreExact(t *testing.T) {
	for _, literal := range []bool{false, true} {
		o := workload.DefaultSynthOptions()
		o.Literal, o.Trajectories, o.Subagents = literal, 3, 1
		w := synthesize(t, o)
		for _, tr := range w.Trajectories {
			tr.Walk(func(tr *workload.Trajectory, _ int) {
				for k := range tr.Turns {
					turn := &tr.Turns[k]
					for i := range turn.Input {
						s := &turn.Input[i]
						text := string(w.Header.AppendSegmentText(nil, tr, s))
						got := len(strings.Fields(text))
						want := s.Tokens
						if literal {
							// Tool calls count in Tokens; their text is elsewhere.
							want = workload.EstimateTokens(s.Text)
							if est := workload.EstimateMessageTokens(s); est != s.Tokens {
								t.Errorf("%s turn %d input[%d]: tokens %d, estimate %d", tr.ID, k, i, s.Tokens, est)
							}
						}
						if got != want {
							t.Errorf("literal=%t %s turn %d input[%d] (%s): %d words, want %d", literal, tr.ID, k, i, s.Role, got, want)
						}
					}
				}
			})
		}
	}
}

// TestSynthesizeShape checks the layout the doc comment promises: a shared
// system prompt, answers re-sent as the assistant, tool results answering
// the calls, outputs inside the spread, sub-agents starting mid-trajectory.
func TestSynthesizeShape(t *testing.T) {
	o := workload.DefaultSynthOptions()
	o.Literal, o.Subagents, o.OutputTokens, o.OutputSpread = true, 1, 40, 8
	w := synthesize(t, o)
	sys := w.Trajectories[0].Turns[0].Input[0]
	if sys.Role != "system" || sys.Tokens != 512 {
		t.Fatalf("first segment = %s %d tokens, want the 512-token system prompt", sys.Role, sys.Tokens)
	}
	for _, tr := range w.Trajectories {
		tr.Walk(func(tr *workload.Trajectory, depth int) {
			if got := tr.Turns[0].Input[0]; got.Text != sys.Text {
				t.Errorf("%s does not start with the shared system prompt", tr.ID)
			}
			for k := range tr.Turns {
				turn := &tr.Turns[k]
				if n := turn.OutputTokens; n < 32 || n > 48 || n != turn.Output.Tokens {
					t.Errorf("%s turn %d: output %d tokens (message %d), want 40±8", tr.ID, k, n, turn.Output.Tokens)
				}
				if k == 0 {
					continue
				}
				in := turn.Input
				ans, res := in[len(in)-2], in[len(in)-1]
				prev := tr.Turns[k-1].Output
				if ans.Role != "assistant" || ans.Text != prev.Text || len(ans.ToolCalls) != 1 {
					t.Errorf("%s turn %d: the previous answer is not re-sent", tr.ID, k)
				}
				if res.Role != "tool" || len(res.ToolCallIDs) != 1 || res.ToolCallIDs[0] != ans.ToolCalls[0].ID || res.Tokens != o.TurnTokens {
					t.Errorf("%s turn %d: tool result %+v does not answer %s", tr.ID, k, res.ToolCallIDs, ans.ToolCalls[0].ID)
				}
				if turn.ThinkS != o.ThinkS || turn.T <= tr.Turns[k-1].T {
					t.Errorf("%s turn %d: think %v at t=%v after t=%v", tr.ID, k, turn.ThinkS, turn.T, tr.Turns[k-1].T)
				}
			}
			if depth == 1 && (tr.AfterTurns != 3 || tr.StartS <= 0 || len(tr.Turns) != 3) {
				t.Errorf("sub-agent %s: after %d turns at %vs with %d turns, want after 3, > 0 s, 3 turns", tr.ID, tr.AfterTurns, tr.StartS, len(tr.Turns))
			}
		})
	}
	if st := workload.StatsOf(w); st.PrefixHit.AcrossTrajectory < 15*512 {
		t.Errorf("shared-prefix hits %d tokens, want at least 15 × 512", st.PrefixHit.AcrossTrajectory)
	}
}

func TestSynthOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*workload.SynthOptions)
		want string // "" = valid
	}{
		{"defaults", func(*workload.SynthOptions) {}, ""},
		{"one trajectory of one turn", func(o *workload.SynthOptions) { o.Trajectories, o.Turns = 1, 1 }, ""},
		{"no shared prefix", func(o *workload.SynthOptions) { o.SharedTokens = 0 }, ""},
		{"zero trajectories", func(o *workload.SynthOptions) { o.Trajectories = 0 }, "trajectories: 0, want 1..100000"},
		{"zero turns", func(o *workload.SynthOptions) { o.Turns = 0 }, "turns: 0"},
		{"no task", func(o *workload.SynthOptions) { o.FirstTokens = 0 }, "first-tokens: 0"},
		{"negative turn tokens", func(o *workload.SynthOptions) { o.TurnTokens = -1 }, "turn-tokens: -1 is negative"},
		{"zero output", func(o *workload.SynthOptions) { o.OutputTokens = 0 }, "output-tokens: 0"},
		{"spread as large as output", func(o *workload.SynthOptions) { o.OutputSpread = 8 }, "output-spread: 8, want 0..7"},
		{"negative think", func(o *workload.SynthOptions) { o.ThinkS = -0.1 }, "think: -0.1s"},
		{"too many sub-agents", func(o *workload.SynthOptions) { o.Subagents = 17 }, "subagents: 17"},
		{"bad name", func(o *workload.SynthOptions) { o.Name = "Bad Name" }, "name: "},
		{"max context above 128K", func(o *workload.SynthOptions) { o.MaxContext = 131073 }, "max-context: 131073, want 1..131072"},
		{"longest request past 128K", func(o *workload.SynthOptions) { o.Turns, o.TurnTokens = 400, 400 },
			"the longest request would hold 164368 tokens (prompt + answer), more than max-context 131072"},
		{"longest request past a small max context", func(o *workload.SynthOptions) { o.MaxContext = 1000 },
			"the longest request would hold 1828 tokens (prompt + answer), more than max-context 1000"},
		{"too much content", func(o *workload.SynthOptions) { o.Trajectories, o.Turns, o.TurnTokens = 100000, 100, 1000 },
			"tokens of content, more than 67108864"},
		{"several problems at once", func(o *workload.SynthOptions) { o.Trajectories, o.Turns = 0, 0 }, "trajectories: 0, want 1..100000; turns: 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := workload.DefaultSynthOptions()
			tt.mod(&o)
			err := o.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !errors.Is(err, workload.ErrSynthOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrSynthOptions containing %q", err, tt.want)
			}
			if _, serr := workload.Synthesize(o); serr == nil || serr.Error() != err.Error() {
				t.Errorf("Synthesize = %v, want Validate's error", serr)
			}
		})
	}
}

// TestSynthesizeLiteralMaxContext: literal answers are at least their tool
// call, which the up-front estimate does not know, so the generated
// workload is checked too.
func TestSynthesizeLiteralMaxContext(t *testing.T) {
	o := workload.DefaultSynthOptions()
	o.Literal, o.OutputTokens, o.OutputSpread = true, 2, 0
	o.MaxContext = o.SharedTokens + o.FirstTokens + (o.Turns-1)*(o.OutputTokens+o.TurnTokens) + o.OutputTokens
	if err := o.Validate(); err != nil {
		t.Fatalf("Validate = %v, want nil at exactly the estimate", err)
	}
	_, err := workload.Synthesize(o)
	if !errors.Is(err, workload.ErrSynthOptions) || !strings.Contains(err.Error(), "the longest request holds") {
		t.Fatalf("Synthesize = %v, want the longest request past max-context %d", err, o.MaxContext)
	}
	o.Literal = false
	if _, err := workload.Synthesize(o); err != nil {
		t.Errorf("hashed blocks at exactly the estimate: %v", err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
