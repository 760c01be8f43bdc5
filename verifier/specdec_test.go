package verifier_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/verifier"
)

// writeEngineMetrics writes raw lines as engine-metrics.jsonl.zst into dir.
func writeEngineMetrics(raw string) func(dir string) error {
	return func(dir string) error {
		f, err := os.Create(filepath.Join(dir, bundle.EngineMetricsFile))
		if err != nil {
			return err
		}
		zw, err := zstd.NewWriter(f)
		if err != nil {
			return err
		}
		if _, err := zw.Write([]byte(raw)); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		return f.Close()
	}
}

func scrapeLines(t *testing.T, probe int, d0, a0, d1, a1 float64) string {
	t.Helper()
	var b []byte
	var err error
	for _, l := range []bundle.EngineMetricsLine{
		{Probe: probe, At: bundle.ScrapeStart, TMonoNs: 1, Counters: map[string]float64{metrics.SpecDraftTokens: d0, metrics.SpecAcceptedTokens: a0}},
		{Probe: probe, At: bundle.ScrapeEnd, TMonoNs: 2, Counters: map[string]float64{metrics.SpecDraftTokens: d1, metrics.SpecAcceptedTokens: a1}},
	} {
		if b, err = bundle.AppendEngineMetricsLine(b, &l); err != nil {
			t.Fatal(err)
		}
	}
	return string(b)
}

func verifyDerived(t *testing.T, edit func(dir string) error) *bundle.Verdict {
	t.Helper()
	b := goodBundle(t)
	dir := filepath.Join(t.TempDir(), "b")
	if err := b.Derive(context.Background(), dir, edit, b.Key); err != nil {
		t.Fatal(err)
	}
	v, err := verifier.Verify(context.Background(), bundle.DirSource(dir), options(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifySpecDecoding(t *testing.T) {
	t.Run("absent: no figure, no check", func(t *testing.T) {
		b := goodBundle(t)
		v, err := verifier.Verify(context.Background(), bundle.DirSource(b.Dir), options(b))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := v.Check(verifier.CheckEngineMetrics); ok || !v.Verified() || len(v.Results.SpecDecoding) != 0 {
			t.Fatalf("without the file: status %s, results %+v", v.Status, v.Results.SpecDecoding)
		}
	})
	t.Run("recomputed per window", func(t *testing.T) {
		v := verifyDerived(t, writeEngineMetrics(scrapeLines(t, 1, 300, 210, 3300, 2310)))
		if !v.Verified() {
			t.Fatalf("status %s, failed %+v", v.Status, v.Failed())
		}
		sd := v.Results.SpecDecoding
		if len(sd) != 1 || sd[0].Probe != 1 || math.Abs(sd[0].Acceptance-0.7) > 1e-9 || sd[0].DraftTokens != 3000 {
			t.Fatalf("spec decoding %+v, want probe 1 at 0.7 over 3000 draft tokens", sd)
		}
		c, _ := v.Check(verifier.CheckEngineMetrics)
		if !c.Informational || !strings.Contains(c.Reason, "probe 1: 0.7000") {
			t.Errorf("check %+v", c)
		}
	})
	// A runner (or engine) claiming a perfect acceptance gets its figure
	// reported as the engine's own account and changes no verdict.
	t.Run("forged: reported, never judged", func(t *testing.T) {
		v := verifyDerived(t, writeEngineMetrics(scrapeLines(t, 1, 0, 0, 1000, 1000)))
		c, _ := v.Check(verifier.CheckEngineMetrics)
		if !v.Verified() || !c.Informational || !strings.Contains(c.Reason, "not judged") {
			t.Fatalf("status %s, check %+v", v.Status, c)
		}
	})
	t.Run("malformed: rejected with its line", func(t *testing.T) {
		v := verifyDerived(t, writeEngineMetrics(scrapeLines(t, 1, 0, 0, 10, 7)+`{"probe":2,"at":"start","t_mono_ns":3,"counters":{"x":-1}}`+"\n"))
		c, ok := v.Check(verifier.CheckEngineMetrics)
		if v.Verified() || !ok || c.Passed || !strings.Contains(c.Reason, bundle.EngineMetricsFile+":3:") {
			t.Fatalf("status %s, check %+v", v.Status, c)
		}
	})
}
