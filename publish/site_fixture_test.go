package publish_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier/verifiertest/known"
)

// Hostile values a vendor could submit: markup, a bidi override that
// makes a name read as another, a javascript: URL, a script end tag.
const (
	hostileVendor  = `<script>document.title='pwned'</script>`
	hostileName    = "fast\u202egnp.exe"
	hostileVersion = "javascript:alert(1)"
	hostileArg     = `<img src=x onerror="document.title='pwned'">`
	hostileNotes   = `</script><script>document.title='pwned'</script>`
)

// siteJob is one job published on a test site.
type siteJob struct {
	id, acc  string
	f        float64 // Agents/MW scale
	hostile  bool    // a spec full of hostile strings
	specDec  bool    // declares speculative decoding; the verdict measured 0.7
	external bool    // an external deployment (engine.deployment), as the verdict says
}

// hostileJobOf is a job record whose spec holds the hostile values.
func hostileJobOf(v *bundle.Verdict, id string) *queue.Job {
	spec, _ := json.Marshal(map[string]any{
		"metadata":      map[string]any{"vendor": hostileVendor, "name": hostileName, "contact": "secret@example.com"},
		"model":         map[string]any{"id": "sim", "revision": "r1\u202e", "precision": "bf16"},
		"system":        map[string]any{"accelerator": "sim-evil", "accelerators": 1},
		"framework":     map[string]any{"name": "sim", "version": hostileVersion},
		"engine":        map[string]any{"image": "registry.example/sim@sha256:" + "ab12", "args": []string{"--max-seqs", hostileArg}, "env": map[string]string{"TOKEN": "hunter2"}},
		"optimizations": map[string]any{"notes": hostileNotes},
		"benchmark":     map[string]any{"rules": "v1", "profile": "test", "workload": "agentic-coding-v1", "tiers": []string{"t20"}},
	})
	return &queue.Job{ID: id, State: queue.Verified, Attempt: v.Attempt, Pool: "sim", Vendor: "acme", Spec: spec, Profile: "test"}
}

// sitePublished is a store in which each job's bundle (the known-good
// one), its verdict, and its publication are stored, one day apart.
func sitePublished(t *testing.T, jobs []siteJob) (*blob.Store, *publish.Leaderboard, string) {
	t.Helper()
	ctx := context.Background()
	b := known.Good(t)
	v := verdictOf(t)
	store := blobtest.Store(t)
	ents, err := os.ReadDir(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var lb *publish.Leaderboard
	for i, j := range jobs {
		vv := scaled(t, v, j.id, j.f)
		if j.specDec && vv.Results != nil {
			vv.Results.SpecDecoding = []bundle.SpecWindow{{Probe: 1, Acceptance: 0.7, DraftTokens: 3000}}
		}
		if j.external && vv.Results != nil {
			vv.Results.Deployment = "external"
		}
		for _, e := range ents {
			if err := store.PutFile(ctx, bundle.Key(j.id, vv.Attempt, e.Name()), filepath.Join(b.Dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
		vb, _ := vv.Marshal()
		if err := store.PutBytes(ctx, bundle.Key(j.id, vv.Attempt, bundle.VerdictFile), vb, "application/json"); err != nil {
			t.Fatal(err)
		}
		job := jobOf(vv, j.id, j.acc)
		if j.hostile {
			job = hostileJobOf(vv, j.id)
		}
		if j.specDec {
			var m map[string]any
			if err := json.Unmarshal(job.Spec, &m); err != nil {
				t.Fatal(err)
			}
			m["optimizations"] = map[string]any{"speculative_decoding": map[string]any{"method": "eagle3"}}
			job.Spec, _ = json.Marshal(m)
		}
		lb, err = publish.Publish(ctx, store, publish.PublishInput{Job: job, Verdict: vv, Local: true,
			Approval: publish.Approval{By: "maint", At: time.Date(2026, 11, 2+i, 9, 0, 0, 0, time.UTC)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return store, lb, b.Dir
}
