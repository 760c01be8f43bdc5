package replay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/workload"
)

// TestLongestRequest: the longest request is found among every turn of
// every trajectory and sub-agent, counting the template, the salt and the
// forced output.
func TestLongestRequest(t *testing.T) {
	w := genWorkload(t, genOpts{trajectories: 2, turns: 3, blockSize: 16, firstBlocks: 1, addBlocks: 1, output: 4, subagents: true})
	got := LongestRequest(w, simTemplate)
	// Root turn 2 holds 3 blocks (48 tokens); the sub-agent's turn 1 holds 4.
	wantPrompt := simTemplate.PerRequest + simTemplate.PerMessage + 4*16 + workload.SaltTokens
	if got.Subagent != "sub" || got.Turn != 1 || got.PromptTokens != wantPrompt || got.OutputTokens != 4 || got.Tokens() != wantPrompt+4 {
		t.Fatalf("LongestRequest = %+v, want sub-agent sub turn 1 with %d+4 tokens", got, wantPrompt)
	}
	if want := fmt.Sprintf("trajectory %s sub-agent sub turn 1", got.Trajectory); got.Where() != want {
		t.Errorf("Where = %q, want %q", got.Where(), want)
	}
}

func modelsServer(t *testing.T, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" {
			t.Errorf("preflight sent %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCheckContext(t *testing.T) {
	w := smallWorkload(t, true)
	need := LongestRequest(w, simTemplate).Tokens()
	tests := []struct {
		name, body, model string
		limit             int
		err               string
	}{
		{"fits", fmt.Sprintf(`{"data":[{"id":"m","max_model_len":%d}]}`, need), "", need, ""},
		{"one token short", fmt.Sprintf(`{"data":[{"id":"m","max_model_len":%d}]}`, need-1), "", need - 1,
			fmt.Sprintf("workload replay-test needs up to %d tokens of context (trajectory", need)},
		{"named model", fmt.Sprintf(`{"data":[{"id":"a","max_model_len":100000},{"id":"b","context_length":%d}]}`, need-1), "b", need - 1,
			"the server's context_length for b is"},
		{"not reported", `{"data":[{"id":"m"}]}`, "", 0, ""},
		{"model not listed", `{"data":[{"id":"a","max_model_len":1}]}`, "other", 0, ""},
		{"several, none named", `{"data":[{"id":"a","max_model_len":1},{"id":"b","max_model_len":1}]}`, "", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := CheckContext(context.Background(), modelsServer(t, tc.body), "", tc.model, w, simTemplate)
			if c.Limit != tc.limit || c.Need.Tokens() != need {
				t.Errorf("check %+v: want limit %d, need %d", c, tc.limit, need)
			}
			var ce *ContextError
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.err != "" && (!errors.As(err, &ce) || !errors.Is(err, ErrContextTooSmall) || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("err = %v, want a ContextError with %q", err, tc.err)
			}
		})
	}
	if _, err := CheckContext(context.Background(), "http://127.0.0.1:1", "", "", w, simTemplate); err == nil {
		t.Error("an unreachable server passed the check")
	}
}

// TestCheckContextCapped: a workload cut to a context cap passes on a
// server whose context is the cap, though its longest request with the
// chat template is a little longer; a smaller server still fails.
func TestCheckContextCapped(t *testing.T) {
	w := smallWorkload(t, true)
	need := LongestRequest(w, simTemplate)
	w.Header.MaxContext = need.PromptTokens + need.OutputTokens - 2
	for _, tc := range []struct {
		limit int
		ok    bool
	}{{w.Header.MaxContext, true}, {w.Header.MaxContext - 1, false}} {
		body := fmt.Sprintf(`{"data":[{"id":"m","max_model_len":%d}]}`, tc.limit)
		_, err := CheckContext(context.Background(), modelsServer(t, body), "", "", w, simTemplate)
		if (err == nil) != tc.ok {
			t.Errorf("capped at %d, server %d: err %v, want ok=%v", w.Header.MaxContext, tc.limit, err, tc.ok)
		}
	}
}

// TestCheckContextAgainstSim: the simulated engine reports max_model_len.
func TestCheckContextAgainstSim(t *testing.T) {
	c, err := CheckContext(context.Background(), startSim(t, "tiny", nil), "", "", smallWorkload(t, false), simTemplate)
	if err != nil || c.Limit != 8192 || c.Field != "max_model_len" || c.Model != "sim-tiny" {
		t.Fatalf("CheckContext = %+v, %v; want sim-tiny's max_model_len 8192", c, err)
	}
}
