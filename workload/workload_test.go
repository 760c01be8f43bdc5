package workload_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"unsafe"

	"github.com/agentwatt/agentwatt/workload"
	"github.com/agentwatt/agentwatt/workload/internal/wltest"
)

func TestRoundTrip(t *testing.T) {
	path, d := wltest.WriteFile(t)
	raw := wltest.Decompress(t, path)
	sum := sha256.Sum256(raw)
	if want := "sha256:" + hex.EncodeToString(sum[:]); string(d) != want {
		t.Errorf("digest = %s, want sha256 of the uncompressed bytes %s", d, want)
	}
	w, err := workload.Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if w.Digest != d {
		t.Errorf("Load digest = %s, want %s", w.Digest, d)
	}
	want := wltest.Trajectories()
	if len(w.Trajectories) != len(want) {
		t.Fatalf("got %d trajectories, want %d", len(w.Trajectories), len(want))
	}
	for i, got := range w.Trajectories {
		compareTrajectory(t, got, want[i])
	}
	if got, want := w.Header.Format, workload.FormatName; got != want {
		t.Errorf("header format = %q, want %q", got, want)
	}
	if got := w.Header.Seed; got != 7 {
		t.Errorf("seed = %d, want 7", got)
	}
	// Keep counts units shared with the previous turn.
	keeps := []int{0, 2, 3, 1} // block 5 is partial in turn 1, full in turn 2
	for i, tu := range w.Trajectories[0].Turns {
		if tu.Keep != keeps[i] {
			t.Errorf("conv-a turn %d keep = %d, want %d", i, tu.Keep, keeps[i])
		}
	}
	if got := w.Trajectories[2].Turns[1].Keep; got != 2 {
		t.Errorf("chat turn 1 keep = %d, want 2 (system and user)", got)
	}
	// Writing what was read gives the same bytes.
	var buf bytes.Buffer
	d2, err := w.Write(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if d2 != d {
		t.Errorf("rewrite digest = %s, want %s", d2, d)
	}
}

func compareTrajectory(t *testing.T, got, want *workload.Trajectory) {
	t.Helper()
	if got.ID != want.ID || got.Source != want.Source || got.Scope != want.Scope ||
		got.SharedPrefixTokens != want.SharedPrefixTokens || !reflect.DeepEqual(got.ForkOf, want.ForkOf) ||
		got.StartS != want.StartS || got.AfterTurns != want.AfterTurns || got.Agent != want.Agent || got.DurationS != want.DurationS {
		t.Errorf("trajectory %s: got %+v, want %+v", want.ID, *got, *want)
	}
	if len(got.Turns) != len(want.Turns) {
		t.Fatalf("trajectory %s: got %d turns, want %d", want.ID, len(got.Turns), len(want.Turns))
	}
	for i := range want.Turns {
		g, w := got.Turns[i], want.Turns[i]
		if g.InputTokens() != w.InputTokens() {
			t.Errorf("%s turn %d: input tokens %d, want %d", want.ID, i, g.InputTokens(), w.InputTokens())
		}
		if !reflect.DeepEqual(units(g.Input), units(w.Input)) {
			t.Errorf("%s turn %d: input units\n got %v\nwant %v", want.ID, i, units(g.Input), units(w.Input))
		}
		g.Input, w.Input, g.Keep, w.Keep = nil, nil, 0, 0
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s turn %d: got %+v, want %+v", want.ID, i, g, w)
		}
	}
	if len(got.Subagents) != len(want.Subagents) {
		t.Fatalf("trajectory %s: got %d sub-agents, want %d", want.ID, len(got.Subagents), len(want.Subagents))
	}
	for i := range want.Subagents {
		compareTrajectory(t, got.Subagents[i], want.Subagents[i])
	}
}

const testBlockSize = 4

// units flattens an input to one string per unit, so that inputs split into
// segments differently but holding the same units compare equal.
func units(in []workload.Segment) []string {
	var out []string
	for _, s := range in {
		if s.IsBlocks() {
			for i, id := range s.Blocks {
				out = append(out, "b"+strconv.FormatInt(id, 10)+":"+strconv.Itoa(s.BlockTokens(i, testBlockSize)))
			}
			continue
		}
		out = append(out, s.Role+":"+s.Text)
	}
	return out
}

// TestSharedHistoryIsNotCopied checks that a turn's input shares its prefix
// with the previous turn's: block ids and message text are the same memory.
func TestSharedHistoryIsNotCopied(t *testing.T) {
	path, _ := wltest.WriteFile(t)
	w, err := workload.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	conv := w.Trajectories[0]
	t0, t1 := conv.Turns[1].Input, conv.Turns[2].Input
	if unsafe.SliceData(t0[0].Blocks) != unsafe.SliceData(t1[0].Blocks) {
		t.Errorf("turn 2's kept blocks are a copy of turn 1's, want the same array")
	}
	chat := w.Trajectories[2]
	a, b := chat.Turns[0].Input[1].Text, chat.Turns[1].Input[1].Text
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Errorf("turn 1's kept message is a copy, want the same string")
	}
	// Appending to a turn's input must not change the next turn's.
	before := append([]int64(nil), conv.Turns[2].Input[0].Blocks...)
	_ = append(conv.Turns[1].Input[0].Blocks, 999)
	if !reflect.DeepEqual(before, conv.Turns[2].Input[0].Blocks) {
		t.Errorf("appending to turn 1's blocks changed turn 2's")
	}
}

func TestWriteFileLeavesNothingOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jsonl.zst")
	boom := errors.New("boom")
	tests := []struct {
		name string
		each func(write func(*workload.Trajectory) error) error
	}{
		{"producer fails", func(write func(*workload.Trajectory) error) error {
			if err := write(wltest.Trajectories()[0]); err != nil {
				return err
			}
			return boom
		}},
		{"invalid trajectory", func(write func(*workload.Trajectory) error) error {
			bad := wltest.Trajectories()[0]
			bad.Turns[0].Input[0].Tokens = 99 // 3 blocks of 4 hold 9..12
			return write(bad)
		}},
		{"duplicate id", func(write func(*workload.Trajectory) error) error {
			if err := write(wltest.Trajectories()[0]); err != nil {
				return err
			}
			return write(wltest.Trajectories()[0])
		}},
		{"no trajectories", func(func(*workload.Trajectory) error) error { return nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := workload.WriteFile(path, wltest.Header(), tc.each); err == nil {
				t.Fatal("WriteFile succeeded, want an error")
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 0 {
				t.Errorf("left behind %d files (%s), want none", len(entries), entries[0].Name())
			}
		})
	}
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	path, d1 := wltest.WriteFile(t)
	h := wltest.Header()
	h.Name = "other"
	d2, err := workload.WriteFile(path, h, func(write func(*workload.Trajectory) error) error {
		return write(wltest.Trajectories()[2])
	})
	if err != nil {
		t.Fatal(err)
	}
	if d1 == d2 {
		t.Fatalf("digests equal for different content")
	}
	w, err := workload.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if w.Header.Name != "other" || len(w.Trajectories) != 1 {
		t.Errorf("got %q with %d trajectories, want the new file", w.Header.Name, len(w.Trajectories))
	}
}

func TestReaderStreamsPlainJSONL(t *testing.T) {
	path, d := wltest.WriteFile(t)
	raw := wltest.Decompress(t, path)
	r, err := workload.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 3 {
		t.Errorf("read %d trajectories, want 3", n)
	}
	got, err := r.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got != d {
		t.Errorf("plain digest = %s, want %s (same bytes as inside the zstd frame)", got, d)
	}
}

func TestDigestWithoutReadingTrajectories(t *testing.T) {
	path, d := wltest.WriteFile(t)
	r, err := workload.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got != d {
		t.Errorf("Digest() = %s, want %s", got, d)
	}
}
