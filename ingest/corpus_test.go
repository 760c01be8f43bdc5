package ingest_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/agentwatt/agentwatt/ingest"
	"github.com/agentwatt/agentwatt/workload"
)

const miniDir = "testdata/kv-cache-tester/mini"

// miniTraces returns the names and bytes of a few real sessions.
func miniTraces(t *testing.T, n int) ([]string, [][]byte) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(miniDir, "trace_*.json"))
	if err != nil || len(names) < n {
		t.Fatalf("glob %s: %d files, %v", miniDir, len(names), err)
	}
	names = names[:n]
	data := make([][]byte, n)
	for i, p := range names {
		if data[i], err = os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
		names[i] = filepath.Base(p)
	}
	return names, data
}

type member struct {
	name     string
	typeflag byte
	body     []byte
	size     int64 // header size when body is nil
	link     string
}

func tarBytes(t *testing.T, ms []member) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Typeflag: m.typeflag, Mode: 0o644, Size: int64(len(m.body)), Linkname: m.link, Format: tar.FormatPAX}
		if m.typeflag != tar.TypeReg {
			h.Size = 0
		}
		if m.body == nil && m.size > 0 {
			h.Size = m.size
			m.body = make([]byte, m.size)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(m.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstdBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeAll(data, nil)
}

func jsonlBytes(t *testing.T, docs [][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, d := range docs {
		if err := json.Compact(&b, d); err != nil {
			t.Fatal(err)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// shape is a workload without its source ids: what must not depend on
// the container the traces came in.
func shape(w *workload.Workload) []string {
	var out []string
	for _, t := range w.Trajectories {
		t.Walk(func(tr *workload.Trajectory, depth int) {
			for k := range tr.Turns {
				tu := &tr.Turns[k]
				out = append(out, strings.Join([]string{tr.Scope, tr.Agent,
					string(rune('0' + depth)), itoa(tu.InputTokens()), itoa(tu.OutputTokens), itoa(len(tu.Input)), itoa(tr.SharedPrefixTokens)}, "/"))
			}
		})
	}
	return out
}

func itoa(v int) string { return strconv.Itoa(v) }

// TestWekaContainers: the same real sessions as separate files, a
// directory, a tar, a tar.zst, JSONL and JSONL.zst give the same
// trajectories, and the source records the container's own sha256.
func TestWekaContainers(t *testing.T) {
	names, docs := miniTraces(t, 5)
	dir := t.TempDir()
	tracesDir := filepath.Join(dir, "traces")
	if err := os.Mkdir(tracesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var files []ingest.Input
	var ms []member
	for i, n := range names {
		files = append(files, ingest.Input{Format: ingest.FormatWeka, Path: writeFile(t, tracesDir, n, docs[i])})
		ms = append(ms, member{name: "./" + n, typeflag: tar.TypeReg, body: docs[i]})
	}
	writeFile(t, tracesDir, "README.md", []byte("not a trace"))
	tb := tarBytes(t, append([]member{{name: "./", typeflag: tar.TypeDir}}, ms...))
	jl := jsonlBytes(t, docs)
	inputs := map[string]string{
		"directory": tracesDir,
		"tar":       writeFile(t, dir, "traces.tar", tb),
		"tar.zst":   writeFile(t, dir, "traces.tar.zst", zstdBytes(t, tb)),
		"jsonl":     writeFile(t, dir, "traces.jsonl", jl),
		"jsonl.zst": writeFile(t, dir, "traces.jsonl.zst", zstdBytes(t, jl)),
	}
	want, wantRep := convert(t, ingest.Options{}, files...)
	for form, p := range inputs {
		t.Run(form, func(t *testing.T) {
			got, rep := convert(t, ingest.Options{}, ingest.Input{Format: ingest.FormatWeka, Path: p})
			if rep.Traces != len(names) || rep.Records != wantRep.Records || rep.Turns != wantRep.Turns || len(got.Trajectories) != len(names) {
				t.Fatalf("report %+v, want %d traces and %d records", rep, len(names), wantRep.Records)
			}
			if g, w := strings.Join(shape(got), "\n"), strings.Join(shape(want), "\n"); g != w {
				t.Errorf("trajectories differ from the separate files'")
			}
			src := got.Header.Sources[0]
			if src.Records != wantRep.Records || src.BlockSize != 64 || src.Licence != "unknown" && form != "directory" {
				t.Errorf("source %+v", src)
			}
			if form != "directory" {
				raw, _ := os.ReadFile(p)
				if src.Bytes != int64(len(raw)) || !strings.HasPrefix(src.ID, "weka:") {
					t.Errorf("source %+v does not describe the %d-byte file", src, len(raw))
				}
			}
		})
	}
}

// TestWekaTraceErrors: a bad trace inside an archive is named by its id,
// its request index and its member; --skip-invalid drops it and counts it.
func TestWekaTraceErrors(t *testing.T) {
	names, docs := miniTraces(t, 3)
	var d map[string]any
	if err := json.Unmarshal(docs[1], &d); err != nil {
		t.Fatal(err)
	}
	id := d["id"].(string)
	delete(d["requests"].([]any)[2].(map[string]any), "in")
	bad, _ := json.Marshal(d)
	ms := []member{{name: names[0], typeflag: tar.TypeReg, body: docs[0]},
		{name: names[1], typeflag: tar.TypeReg, body: bad},
		{name: names[2], typeflag: tar.TypeReg, body: docs[2]}}
	p := writeFile(t, t.TempDir(), "t.tar.zst", zstdBytes(t, tarBytes(t, ms)))
	in := ingest.Input{Format: ingest.FormatWeka, Path: p}
	_, err := ingest.Run(context.Background(), []ingest.Input{in}, filepath.Join(t.TempDir(), "o.jsonl.zst"), ingest.Options{Name: "x"})
	var te *ingest.TraceError
	if !errors.As(err, &te) || te.Trace != id || te.Request != 2 {
		t.Fatalf("error %v (%#v), want a TraceError for trace %s request 2", err, te, id)
	}
	for _, want := range []string{`trace "` + id + `" request 2`, "t.tar.zst[" + names[1] + "]", "requests[2].in: missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	w, rep := convert(t, ingest.Options{SkipInvalid: true}, in)
	if rep.Traces != 3 || rep.Skipped != 1 || len(rep.SkippedReasons) != 1 || len(w.Trajectories) != 2 || rep.Inputs[0].Skipped != 1 {
		t.Errorf("with --skip-invalid: report %+v, %d trajectories; want 3 traces, 1 skipped, 2 written", rep, len(w.Trajectories))
	}
}

// TestHostileArchives: members an archive must not smuggle in are refused
// by name (and skippable); nothing is written anywhere but the output.
func TestHostileArchives(t *testing.T) {
	names, docs := miniTraces(t, 1)
	good := member{name: names[0], typeflag: tar.TypeReg, body: docs[0]}
	lim := ingest.Limits{MaxFileBytes: 1 << 20, MaxLineBytes: 1 << 20, MaxNesting: 64, MaxInputBytes: 8 << 20}
	tests := []struct {
		name string
		m    member
		want string
	}{
		{"path traversal", member{name: "../../escaped.json", typeflag: tar.TypeReg, body: docs[0]}, "unsafe member name"},
		{"absolute path", member{name: "/etc/escaped.json", typeflag: tar.TypeReg, body: docs[0]}, "unsafe member name"},
		{"control characters", member{name: "a\x1b[2Jb.json", typeflag: tar.TypeReg, body: docs[0]}, `a\x1b[2Jb.json`},
		{"symlink", member{name: "link.json", typeflag: tar.TypeSymlink, link: "/etc/passwd"}, "symbolic link"},
		{"hard link", member{name: "hard.json", typeflag: tar.TypeLink, link: names[0]}, "hard link"},
		{"device", member{name: "dev.json", typeflag: tar.TypeChar}, "device file"},
		{"huge member", member{name: "huge.json", typeflag: tar.TypeReg, size: 2 << 20}, "over the 1048576-byte limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			work := filepath.Join(dir, "a", "b")
			if err := os.MkdirAll(work, 0o755); err != nil {
				t.Fatal(err)
			}
			p := writeFile(t, work, "t.tar", tarBytes(t, []member{good, tc.m}))
			in := []ingest.Input{{Format: ingest.FormatWeka, Path: p}}
			out := filepath.Join(work, "o.jsonl.zst")
			_, err := ingest.Run(context.Background(), in, out, ingest.Options{Name: "x", Limits: lim})
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.ContainsRune(err.Error(), 0x1b) {
				t.Fatalf("error %q, want one saying %q (escaped)", err, tc.want)
			}
			if _, serr := os.Stat(out); !os.IsNotExist(serr) {
				t.Errorf("output written despite the error")
			}
			rep, err := ingest.Run(context.Background(), in, out, ingest.Options{Name: "x", Limits: lim, SkipInvalid: true})
			if err != nil || rep.Skipped != 1 || rep.Trajectories != 1 {
				t.Fatalf("with --skip-invalid: %+v, %v", rep, err)
			}
			for _, stray := range []string{filepath.Join(dir, "escaped.json"), filepath.Join(dir, "a", "escaped.json")} {
				if _, err := os.Stat(stray); err == nil {
					t.Errorf("%s was written", stray)
				}
			}
		})
	}
}

// TestHostileDirectory: a symlink in a trace directory is not followed.
func TestHostileDirectory(t *testing.T) {
	names, docs := miniTraces(t, 1)
	dir := t.TempDir()
	writeFile(t, dir, names[0], docs[0])
	secret := writeFile(t, t.TempDir(), "secret.json", docs[0])
	if err := os.Symlink(secret, filepath.Join(dir, "z.json")); err != nil {
		t.Fatal(err)
	}
	_, err := ingest.Run(context.Background(), []ingest.Input{{Format: ingest.FormatWeka, Path: dir}}, filepath.Join(t.TempDir(), "o.jsonl.zst"), ingest.Options{Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("error %v, want the symlink refused", err)
	}
}

// TestGiantLine: a JSONL line over the limit is refused without holding it
// in memory (the heap stays far below the line's size), and is skippable.
func TestGiantLine(t *testing.T) {
	_, docs := miniTraces(t, 2)
	jl := jsonlBytes(t, docs)
	giant := append([]byte(`{"id":"giant","pad":"`), bytes.Repeat([]byte("x"), 64<<20)...)
	giant = append(giant, "\"}\n"...)
	data := append(append(append([]byte{}, jl[:bytes.IndexByte(jl, '\n')+1]...), giant...), jl[bytes.IndexByte(jl, '\n')+1:]...)
	p := writeFile(t, t.TempDir(), "t.jsonl.zst", zstdBytes(t, data))
	data, giant = nil, nil
	lim := ingest.Limits{MaxFileBytes: 1 << 20, MaxLineBytes: 1 << 20, MaxNesting: 64, MaxInputBytes: 1 << 30}
	in := []ingest.Input{{Format: ingest.FormatWeka, Path: p}}
	_, err := ingest.Run(context.Background(), in, filepath.Join(t.TempDir(), "o.jsonl.zst"), ingest.Options{Name: "x", Limits: lim})
	if err == nil || !strings.Contains(err.Error(), "t.jsonl.zst:2: line longer than 1048576 bytes") {
		t.Fatalf("error %v, want line 2 refused", err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	rep, err := ingest.Run(context.Background(), in, filepath.Join(t.TempDir(), "o.jsonl.zst"), ingest.Options{Name: "x", Limits: lim, SkipInvalid: true})
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if err != nil || rep.Skipped != 1 || rep.Trajectories != 2 {
		t.Fatalf("with --skip-invalid: %+v, %v", rep, err)
	}
	// TotalAlloc counts every allocation: reading the 64 MiB line twice
	// into memory would allocate at least 128 MiB.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 48<<20 {
		t.Errorf("allocated %d MiB to skip a 64 MiB line", alloc>>20)
	}
}

// TestZstdBomb: a small compressed input that inflates past MaxInputBytes
// stops there with ErrTooLarge, skipping or not.
func TestZstdBomb(t *testing.T) {
	bomb := zstdBytes(t, make([]byte, 256<<20)) // 256 MiB of zeros
	if len(bomb) > 1<<20 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	lim := ingest.Limits{MaxFileBytes: 1 << 20, MaxLineBytes: 1 << 20, MaxNesting: 64, MaxInputBytes: 16 << 20}
	for _, name := range []string{"bomb.jsonl.zst", "bomb.json.zst", "bomb.tar.zst"} {
		p := writeFile(t, t.TempDir(), name, bomb)
		_, err := ingest.Run(context.Background(), []ingest.Input{{Format: ingest.FormatWeka, Path: p}}, filepath.Join(t.TempDir(), "o.jsonl.zst"),
			ingest.Options{Name: "x", Limits: lim, SkipInvalid: true})
		if !errors.Is(err, workload.ErrTooLarge) && !strings.Contains(fmtErr(err), "limit") {
			t.Errorf("%s: error %v, want the input limit", name, err)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestMaxContext: each trajectory is cut before its first turn whose input
// + output exceed the cap, sub-agents too; the report counts the cuts and
// the header records the cap.
func TestMaxContext(t *testing.T) {
	in := ingest.Input{Format: ingest.FormatWeka, Path: miniDir}
	const limit = 20000
	w, rep := convert(t, ingest.Options{MaxContext: limit}, in)
	uncapped, urep := convert(t, ingest.Options{}, in)
	if w.Header.MaxContext != limit || rep.MaxContext != limit {
		t.Fatalf("header max_context %d, report %d; want %d", w.Header.MaxContext, rep.MaxContext, limit)
	}
	cut, trajCut, dropped := 0, 0, 0
	for i, u := range uncapped.Trajectories {
		turns := u.TurnCount()
		k := 0
		for k < len(u.Turns) && u.Turns[k].InputTokens()+u.Turns[k].OutputTokens <= limit {
			k++
		}
		if k == 0 {
			dropped++
		}
		c := u // the capped copy, found by id
		var got *workload.Trajectory
		for _, x := range w.Trajectories {
			if x.ID == c.ID {
				got = x
			}
		}
		if k > 0 && (got == nil || len(got.Turns) != k) {
			t.Fatalf("trajectory %d: want %d turns kept", i, k)
		}
		kept := 0
		if got != nil {
			kept = got.TurnCount()
			got.Walk(func(tr *workload.Trajectory, _ int) {
				for j := range tr.Turns {
					if n := tr.Turns[j].InputTokens() + tr.Turns[j].OutputTokens; n > limit {
						t.Errorf("%s turn %d: %d tokens over the cap", tr.ID, j, n)
					}
				}
			})
		}
		if kept < turns {
			trajCut++
			cut += turns - kept
		}
	}
	if cut == 0 || dropped == 0 || rep.CutTurns != cut || rep.CutTrajectories != trajCut || rep.DroppedTrajectories != dropped {
		t.Errorf("report cut %d turns of %d trajectories (%d dropped); want %d, %d, %d (nonzero)",
			rep.CutTurns, rep.CutTrajectories, rep.DroppedTrajectories, cut, trajCut, dropped)
	}
	if rep.Records != urep.Records || rep.Turns != urep.Turns-cut {
		t.Errorf("records %d turns %d; want %d records and %d turns", rep.Records, rep.Turns, urep.Records, urep.Turns-cut)
	}
}
