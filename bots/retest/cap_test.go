package retest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/queue"
)

// fillQueue queues jobs of vendor until it has n queued; it returns their
// ids.
func (e *env) fillQueue(vendor string, n int) []string {
	e.t.Helper()
	have, err := e.q.List(e.ctx, queue.Filter{Vendor: vendor, State: queue.Queued})
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for i := len(have); i < n; i++ {
		j, _, err := e.q.Enqueue(e.ctx, queue.NewJob{Vendor: vendor, Name: fmt.Sprintf("filler-%d", i), Pool: "sim",
			Spec: []byte(`{}`), SpecDigest: "sha256:" + strings.Repeat(fmt.Sprintf("%02x", i%256), 32), Trigger: fmt.Sprintf("submit:filler-%d", i)})
		if err != nil {
			e.t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	return ids
}

// Attack: a vendor at the intake's queued-job cap (20 by default) cannot
// get more jobs queued by opting its configurations in to retests. A
// release retest over the cap is not queued and not dropped: it waits,
// pending and reported, and is queued by a later poll once the vendor's
// queue has room.
func TestRetestWaitsForTheVendorsQueuedCap(t *testing.T) {
	e := newEnv(t)
	of := e.publishSim() // its job stays queued: one of demo's
	fillers := e.fillQueue("demo", 20)
	w := e.watcher()
	rep, err := w.Release(e.ctx, "sim", "2")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Queued) != 0 || len(e.retests()) != 0 {
		t.Fatalf("a retest was queued over the vendor's cap: %+v", rep.Queued)
	}
	if len(rep.Pending) != 1 || rep.Pending[0].Of != of || !strings.Contains(rep.Pending[0].LastError, "queued") {
		t.Fatalf("pending %+v, want the retest of %s waiting for the cap", rep.Pending, of)
	}
	// Still full at the next try: still pending.
	e.clock.Add(time.Hour)
	if rep := e.once(w); len(rep.Queued) != 0 || len(rep.Pending) != 1 {
		t.Fatalf("still at the cap: queued %+v, pending %+v", rep.Queued, rep.Pending)
	}
	// A runner takes one job (here: it is canceled): room for the retest.
	if _, err := e.q.Cancel(e.ctx, fillers[0], "test"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(4 * time.Hour)
	rep = e.once(w)
	if len(rep.Queued) != 1 || rep.Queued[0].Of != of || rep.Queued[0].Trigger != "retest:sim@2" || len(rep.Pending) != 0 {
		t.Fatalf("with room: queued %+v, pending %+v", rep.Queued, rep.Pending)
	}
}

// Attack: scheduled retests count too; one over the cap is left for a
// later poll, reported, and not marked done.
func TestScheduledRetestWaitsForTheVendorsQueuedCap(t *testing.T) {
	e := newEnv(t)
	of := e.publish(e.submission("a", nil), e.clock.Now().Add(-200*time.Hour))
	vendor := e.submission("a", nil).Metadata.Vendor
	fillers := e.fillQueue(vendor, 20)
	w := e.watcher(func(c *Config) { c.Every = 168 * time.Hour })
	rep := e.once(w)
	if len(rep.Queued) != 0 || len(e.retests()) != 0 {
		t.Fatalf("a scheduled retest was queued over the vendor's cap: %+v", rep.Queued)
	}
	if len(rep.Deferred) != 1 || !strings.Contains(rep.Deferred[0], of) {
		t.Fatalf("deferred %q, want the scheduled retest of %s", rep.Deferred, of)
	}
	if _, err := e.q.Cancel(e.ctx, fillers[0], "test"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	if rep := e.once(w); len(rep.Queued) != 1 || rep.Queued[0].Of != of {
		t.Fatalf("with room: queued %+v", rep.Queued)
	}
}
