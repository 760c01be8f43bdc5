package agentrunner

import (
	"context"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
)

// search runs the capacity search (or the fixed N) with the power sampler
// running. An engine that exits meanwhile stops it at once. The summary of
// what ran is returned also when it was interrupted.
func (jr *jobRun) search(ctx context.Context, eng *jobEngine, l *loadRun) (*replay.Summary, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-eng.done():
			cancel(errEngineEnded)
		case <-ctx.Done():
		}
	}()
	var (
		sum *replay.Summary
		err error
	)
	if n := jr.r.cfg.FixedAgents; n > 0 {
		sum, err = l.rep.Fixed(ctx, n)
	} else {
		sum, err = l.rep.Search(ctx)
	}
	if e := eng.ended(); e != nil {
		return sum, e
	}
	if err != nil && context.Cause(ctx) != nil {
		return sum, context.Cause(ctx)
	}
	return sum, err
}
