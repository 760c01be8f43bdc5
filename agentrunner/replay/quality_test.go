package replay

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/workload"
)

// TestSearchQualityOnSim: on the sim's tiny profile the search finds the
// same N_max as an exhaustive sweep (every N from 1 up to the first
// failure), within ±5% or one agent, in at most ⌈log₂ N_max⌉ + 7 probe windows.
//
// The workload is tiny — short prompts, answers of 6 to 10 tokens, no think
// time — so that windows fill in the test profile's minimum time; answer
// lengths vary so that agents do not fall into lock-step. The sweep and the
// search run at the same time, each against its own engine, so that both
// see the same machine load. Near N_max a probe's verdict turns on a few
// percent of decode rate, which a loaded machine takes away: when the two
// disagree while the client's scheduling lag shows a loaded machine, the
// comparison is repeated (up to three times, then skipped as unjudgeable);
// a disagreement on a quiet machine fails.
func TestSearchQualityOnSim(t *testing.T) {
	if testing.Short() {
		t.Skip("about a minute of probes")
	}
	w := genWorkload(t, genOpts{trajectories: 8, turns: 6, blockSize: 16, sharedBlocks: 2, firstBlocks: 2, addBlocks: 1, output: 8, outputSpread: 2})
	const attempts = 3
	for attempt := 1; ; attempt++ {
		q := measureQuality(t, w)
		t.Logf("attempt %d: sweep N_max %d; search N_max %d (confirmed %v, N0 %d) in %d windows; worst scheduling lag p99 %v",
			attempt, q.sweep, q.search.MaxAgents, q.search.Confirmed, q.search.N0, q.windows, q.worstLag)
		var problems []string
		if q.sweepProblem != "" {
			problems = append(problems, q.sweepProblem)
		}
		if q.sweep < 4 {
			problems = append(problems, fmt.Sprintf("sweep N_max %d: the tiny profile holds more agents", q.sweep))
		}
		if !q.search.Confirmed {
			problems = append(problems, "search N_max not confirmed: "+q.search.Reason)
		}
		// Within 5%, and never closer than one agent: the rules' min_step
		// bounds the search's own resolution, so at N ≈ 10 a one-agent
		// difference is the resolution, not a disagreement.
		if math.Abs(float64(q.search.MaxAgents-q.sweep)) > max(0.05*float64(q.sweep), 1) {
			problems = append(problems, fmt.Sprintf("search N_max %d and sweep %d are more than 5%% (and one agent) apart", q.search.MaxAgents, q.sweep))
		}
		if bound := bits.Len(uint(max(q.search.MaxAgents, 1)-1)) + 7; q.windows > bound {
			problems = append(problems, fmt.Sprintf("%d probe windows, bound ⌈log₂ %d⌉ + 7 = %d", q.windows, q.search.MaxAgents, bound))
		}
		switch {
		case len(problems) == 0:
			return
		case q.worstLag <= noisyLag:
			t.Fatalf("on a quiet machine: %s", strings.Join(problems, "; "))
		case attempt == attempts:
			t.Skipf("the machine stayed too loaded (scheduling lag p99 up to %v) to compare capacities a few percent of decode rate apart: %s",
				q.worstLag, strings.Join(problems, "; "))
		}
		t.Logf("disagreement on a loaded machine; measuring again")
	}
}

// noisyLag is the client scheduling lag p99 above which the machine is too
// loaded for a verdict that turns on a few percent of decode rate.
const noisyLag = 20 * time.Millisecond

type quality struct {
	sweep        int
	sweepProblem string
	search       TierSummary
	windows      int
	worstLag     time.Duration
}

func measureQuality(t *testing.T, w *workload.Workload) quality {
	_, prof := testRules(t)
	tiers := []string{"t20"}
	ctx := context.Background()
	sweep := newSimRunner(t, startSim(t, "tiny", nil), w, prof, tiers, nil)
	search := newSimRunner(t, startSim(t, "tiny", nil), w, prof, tiers, nil)

	var q quality
	var sweepErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if sweepErr = sweep.start(ctx); sweepErr != nil {
			return
		}
		defer sweep.finish()
		for n := 1; n <= 64; n++ {
			p, err := sweep.probe(ctx, n, "sweep", "t20")
			if err != nil {
				sweepErr = err
				return
			}
			if !p.Result.Valid || !p.Result.Conclusive {
				q.sweepProblem = fmt.Sprintf("sweep probe at N=%d is not valid and conclusive: %s", n,
					strings.Join(append(p.Result.InvalidReasons, p.Result.InconclusiveReasons...), "; "))
				return
			}
			if !p.Result.Tiers[0].Passed {
				return
			}
			q.sweep = n
		}
	}()
	sum, err := search.Search(ctx)
	wg.Wait()
	if err != nil || sweepErr != nil {
		t.Fatalf("search: %v; sweep: %v", err, sweepErr)
	}
	q.search, q.windows = sum.Tiers["t20"], len(sum.Probes)
	for _, r := range []*Runner{sweep, search} {
		for _, p := range r.Probes() {
			q.worstLag = max(q.worstLag, time.Duration(p.Client.SchedLagP99Ns))
		}
	}
	return q
}
