package agentrunner

import (
	"context"

	"github.com/agentwatt/agentwatt/workload"
)

// jobWorkload is what the workload phase produced.
type jobWorkload struct {
	name   string
	digest workload.Digest // "" when it did not load
	wl     *workload.Workload
}

// loadWorkload resolves the job's workload (pinned by digest when the job
// names one) and loads it. The name is returned with a failure: the bundle
// says which workload did not load.
func (jr *jobRun) loadWorkload(ctx context.Context, js *jobSpec) (*jobWorkload, error) {
	w := &jobWorkload{name: jr.job.Workload}
	if w.name == "" {
		w.name = js.sub.WorkloadName()
	}
	want := workload.Digest(jr.job.WorkloadDigest)
	if want == "" {
		want = workload.Digest(js.sub.WorkloadDigest())
	}
	wl, dig, err := jr.r.workloads.Load(ctx, w.name, want)
	if err != nil {
		return w, err
	}
	w.wl, w.digest = wl, dig
	return w, nil
}
