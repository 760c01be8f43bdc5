package replay

import (
	"context"
	"fmt"

	"github.com/agentwatt/agentwatt/agentrunner/loadgen"
	"github.com/agentwatt/agentwatt/workload"
)

// RequestSize is the size of one request a workload sends.
type RequestSize struct {
	Trajectory string // the root trajectory's id
	Subagent   string // the sub-agent path; "" for the root
	Turn       int
	// PromptTokens is workload.TargetPromptTokens: the turn's tokens, the
	// session salt and the chat template. OutputTokens is the forced
	// output length.
	PromptTokens int
	OutputTokens int
}

// Tokens is the context the request needs: prompt plus forced output.
func (s RequestSize) Tokens() int { return s.PromptTokens + s.OutputTokens }

// Where names the request: "trajectory T turn K", with the sub-agent.
func (s RequestSize) Where() string {
	if s.Subagent != "" {
		return fmt.Sprintf("trajectory %s sub-agent %s turn %d", s.Trajectory, s.Subagent, s.Turn)
	}
	return fmt.Sprintf("trajectory %s turn %d", s.Trajectory, s.Turn)
}

// LongestRequest is the request of w, sub-agents included, that needs the
// most context under template tpl. With live history a prompt's assistant
// text is the server's, of about the recorded length; the recorded target
// is what is checked.
func LongestRequest(w *workload.Workload, tpl workload.ChatTemplate) RequestSize {
	var best RequestSize
	for _, root := range w.Trajectories {
		var walk func(t *workload.Trajectory, path string)
		walk = func(t *workload.Trajectory, path string) {
			for k := range t.Turns {
				s := RequestSize{
					Trajectory: root.ID, Subagent: path, Turn: k,
					PromptTokens: workload.TargetPromptTokens(&t.Turns[k], tpl),
					OutputTokens: max(1, t.Turns[k].OutputTokens),
				}
				if s.Tokens() > best.Tokens() {
					best = s
				}
			}
			for _, sub := range t.Subagents {
				p := sub.ID
				if path != "" {
					p = path + "/" + sub.ID
				}
				walk(sub, p)
			}
		}
		walk(root, "")
	}
	return best
}

// ContextError says a workload needs more context than the server serves.
type ContextError struct {
	Workload string      // the workload's name
	Need     RequestSize // its longest request
	Model    string
	Field    string // the /v1/models field, e.g. max_model_len
	Limit    int    // its value
}

func (e *ContextError) Error() string {
	return fmt.Sprintf("workload %s needs up to %s tokens of context (%s: %s prompt + %s output); the server's %s for %s is %s",
		e.Workload, workload.Thousands(int64(e.Need.Tokens())), e.Need.Where(), workload.Thousands(int64(e.Need.PromptTokens)), workload.Thousands(int64(e.Need.OutputTokens)),
		e.Field, e.Model, workload.Thousands(int64(e.Limit)))
}

func (e *ContextError) Unwrap() error { return ErrContextTooSmall }

// ContextCheck is what CheckContext found.
type ContextCheck struct {
	Need  RequestSize
	Model string // the model checked ("" when none could be chosen)
	// Limit and Field: the server's context length and the field that
	// reported it; Limit is 0 when the server did not report one, and then
	// nothing was checked.
	Limit int
	Field string
}

// CheckContext asks the server's /v1/models for the context length of the
// model a run would use (model, or the only one listed) and compares it
// with the workload's longest request (LongestRequest). It returns a
// *ContextError (ErrContextTooSmall) when the request cannot fit; a server
// that reports no context length, or a model it does not list, passes
// unchecked (ContextCheck.Limit 0). A workload cut to a context cap
// (workload.Header.MaxContext) passes on a server whose context is at least
// the cap: the cap is what it was made for, and the chat template's few
// tokens above it are the engine's to absorb.
func CheckContext(ctx context.Context, endpoint, apiKey, model string, w *workload.Workload, tpl workload.ChatTemplate) (ContextCheck, error) {
	c := ContextCheck{Need: LongestRequest(w, tpl)}
	list, err := loadgen.ListModels(ctx, endpoint, apiKey)
	if err != nil {
		return c, fmt.Errorf("check context length: %w", err)
	}
	var m *loadgen.ModelInfo
	for i := range list {
		if list[i].ID == model || model == "" && len(list) == 1 {
			m = &list[i]
			break
		}
	}
	if m == nil {
		return c, nil
	}
	c.Model, c.Limit, c.Field = m.ID, m.ContextLength, m.ContextField
	capped := w.Header.MaxContext > 0 && c.Limit >= w.Header.MaxContext
	if c.Limit > 0 && c.Need.Tokens() > c.Limit && !capped {
		return c, &ContextError{Workload: w.Header.Name, Need: c.Need, Model: m.ID, Field: c.Field, Limit: c.Limit}
	}
	return c, nil
}
