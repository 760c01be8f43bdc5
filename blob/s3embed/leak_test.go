package s3embed

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/agentwatt/agentwatt/blob"
)

// TestStopLeavesNoGoroutines checks that Stop ends the gateway's
// goroutines, except two of fasthttp's: the process-wide Date header
// ticker (started once, never stopped) and the worker pool's idle cleaner,
// which notices the stop at its next 10 s tick.
func TestStopLeavesNoGoroutines(t *testing.T) {
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	}
	for range 2 { // a second cycle shows nothing accumulates
		s := start(t, Config{Dir: t.TempDir()})
		st, err := blob.Open(context.Background(), s.BlobConfig("leak"))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutBytes(context.Background(), "k", make([]byte, 20<<20), ""); err != nil {
			t.Fatal(err)
		}
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	goleak.VerifyNone(t, opts...)
}
