package workload_test

import (
	"bytes"
	"io"
	"slices"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/agentwatt/agentwatt/workload"
)

// FuzzReader feeds arbitrary bytes to the reader. Whatever it accepts must
// survive a write and a re-read unchanged (the writer's form is canonical:
// writing it again gives the same digest).
func FuzzReader(f *testing.F) {
	zr, err := zstd.NewReader(bytes.NewReader(workload.DefaultBytes()))
	if err != nil {
		f.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	zr.Close()
	if err != nil {
		f.Fatal(err)
	}
	// Seeds from the built-in workload (real traces): its header with each
	// of its shortest trajectories, and one of them zstd-compressed. Seeds
	// stay small: the fuzzer minimises every new finding byte by byte.
	lines := bytes.SplitAfter(plain, []byte("\n"))
	hdr, trajs := lines[0], slices.Clone(lines[1:])
	slices.SortStableFunc(trajs, func(a, b []byte) int { return len(a) - len(b) })
	for _, l := range trajs[:4] {
		f.Add(append(slices.Clone(hdr), l...))
	}
	f.Add(append(slices.Clone(hdr), trajs[len(trajs)/2]...)) // a multi-turn session
	var z bytes.Buffer
	zw, _ := zstd.NewWriter(&z)
	zw.Write(append(slices.Clone(hdr), trajs[0]...))
	zw.Close()
	f.Add(z.Bytes())
	f.Add(append(append([]byte{}, lines[0]...), []byte(goodLine+"\n")...))
	f.Add([]byte(`{"format":"agentwatt-workload","version":1}`))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := workload.Limits{MaxBytes: 256 << 10, MaxLineBytes: 64 << 10, MaxNesting: 64}
		w, err := workload.LoadBytes(data, workload.WithLimits(lim))
		if err != nil {
			return
		}
		var once bytes.Buffer
		d1, err := w.Write(&once, workload.Uncompressed())
		if err != nil {
			t.Fatalf("re-writing an accepted workload: %v", err)
		}
		w2, err := workload.LoadBytes(once.Bytes(), workload.WithLimits(workload.DefaultLimits()))
		if err != nil {
			t.Fatalf("re-reading a written workload: %v", err)
		}
		if w2.Digest != d1 || len(w2.Trajectories) != len(w.Trajectories) {
			t.Fatalf("re-read: digest %s vs %s, %d vs %d trajectories", w2.Digest, d1, len(w2.Trajectories), len(w.Trajectories))
		}
		var twice bytes.Buffer
		d2, err := w2.Write(&twice, workload.Uncompressed())
		if err != nil || d2 != d1 {
			t.Fatalf("second write: %v, digest %s vs %s", err, d2, d1)
		}
	})
}
