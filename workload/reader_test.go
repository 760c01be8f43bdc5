package workload_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/agentwatt/agentwatt/workload"
	"github.com/agentwatt/agentwatt/workload/internal/wltest"
)

func headerLine(t *testing.T) string {
	t.Helper()
	h := wltest.Header()
	h.Format, h.Version = workload.FormatName, workload.FormatVersion
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const goodLine = `{"id":"a","source":0,"shared_prefix_tokens":0,"turns":[{"t":0,"think_s":0,"keep":0,"add":[{"blocks":[1,2],"tokens":6}],"output_tokens":3}]}`

// readAll reads a whole file and returns the first error.
func readAll(name string, data []byte, opts ...workload.ReadOption) error {
	r, err := workload.NewReader(bytes.NewReader(data), append([]workload.ReadOption{workload.WithName(name)}, opts...)...)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		if _, err := r.Next(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

func TestReaderRejectsMalformedLines(t *testing.T) {
	hdr := headerLine(t)
	tests := []struct {
		name string
		file string
		want string // substring of the error, located
	}{
		{"empty file", "", "w.jsonl: empty file"},
		{"wrong format", `{"format":"other","version":1}`, "w.jsonl:1: format"},
		{"wrong version", strings.Replace(hdr, `"version":1`, `"version":2`, 1), "w.jsonl:1: version: 2"},
		{"header without sources", strings.Replace(hdr, `"sources":[`, `"x":[`, 1), `w.jsonl:1: json: unknown field "x"`},
		{"bad name", strings.Replace(hdr, `"name":"test-workload"`, `"name":"Bad Name"`, 1), "w.jsonl:1: name:"},
		{"syntax error", hdr + "\n" + `{"id":"a",,}`, "w.jsonl:2:11: invalid JSON"},
		{"type error", hdr + "\n" + `{"id":5}`, "w.jsonl:2:7: id: want string"},
		{"unknown field", hdr + "\n" + strings.Replace(goodLine, `"id"`, `"idx"`, 1), `w.jsonl:2: json: unknown field "idx"`},
		{"trailing data", hdr + "\n" + goodLine + ` {}`, "w.jsonl:2:"},
		{"empty line", hdr + "\n\n" + goodLine, "w.jsonl:2: empty line"},
		{"source out of range", hdr + "\n" + strings.Replace(goodLine, `"source":0`, `"source":9`, 1), "w.jsonl:2: source: 9 is not a source index"},
		{"block tokens", hdr + "\n" + strings.Replace(goodLine, `"tokens":6`, `"tokens":9`, 1), "w.jsonl:2: turns[0].input[0].tokens: 2 blocks of 4 tokens hold 5..8 tokens, not 9"},
		{"first turn keeps", hdr + "\n" + strings.Replace(goodLine, `"keep":0`, `"keep":1`, 1), "w.jsonl:2: turns[0].keep: keeps 1 units but the previous turn's input has 0"},
		{"blocks in text source", hdr + "\n" + strings.Replace(goodLine, `"source":0`, `"source":1`, 1), "turns[0].input[0].blocks: the source has no block size"},
		{"message without role", hdr + "\n" + strings.Replace(goodLine, `{"blocks":[1,2],"tokens":6}`, `{"text":"hi","tokens":1}`, 1), "turns[0].input[0].role: a message needs a role"},
		{"negative output", hdr + "\n" + strings.Replace(goodLine, `"output_tokens":3`, `"output_tokens":-1`, 1), "turns[0].output_tokens: -1 is negative"},
		{"negative think", hdr + "\n" + strings.Replace(goodLine, `"think_s":0`, `"think_s":-2`, 1), "turns[0].think_s: -2 is not a time"},
		{"no turns", hdr + "\n" + `{"id":"a","source":0,"shared_prefix_tokens":0,"turns":[]}`, "w.jsonl:2: turns: a trajectory needs at least one turn"},
		{"shared prefix off boundary", hdr + "\n" + strings.Replace(goodLine, `"shared_prefix_tokens":0`, `"shared_prefix_tokens":3`, 1), "shared_prefix_tokens: 3 does not end on a segment or block boundary"},
		{"shared prefix too long", hdr + "\n" + strings.Replace(goodLine, `"shared_prefix_tokens":0`, `"shared_prefix_tokens":30`, 1), "shared_prefix_tokens: 30 exceeds the first turn's 6 input tokens"},
		{"top-level start offset", hdr + "\n" + strings.Replace(goodLine, `"source":0`, `"source":0,"start_s":3`, 1), "w.jsonl:2: start_s: only sub-agents"},
		{"sub-agent after too many turns", hdr + "\n" + strings.Replace(goodLine, `}]}`, `}],"subagents":[`+strings.Replace(goodLine, `"source":0`, `"source":0,"after_turns":5`, 1)+`]}`, 1), "subagents[0].after_turns: 5 is outside 0..1"},
		{"duplicate id", hdr + "\n" + goodLine + "\n" + goodLine, `w.jsonl:3: id: "a" repeats the id of the trajectory on line 2`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := workload.LoadBytes([]byte(tc.file), workload.WithName("w.jsonl"))
			if err == nil {
				t.Fatalf("LoadBytes succeeded, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tc.want)
			}
			if !errors.Is(err, workload.ErrFormat) {
				t.Errorf("error %v does not match ErrFormat", err)
			}
		})
	}
}

func TestReaderLimits(t *testing.T) {
	hdr := headerLine(t)
	file := hdr + "\n" + goodLine + "\n"
	nested := hdr + "\n" + `{"id":"a","source":0,"shared_prefix_tokens":0,"turns":[{"t":0,"think_s":0,"keep":0,"add":[{"blocks":[1,2],"tokens":6,"role":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}],"output_tokens":3}]}` + "\n"
	tests := []struct {
		name   string
		file   string
		limits workload.Limits
		want   string
	}{
		{"line too long", file, workload.Limits{MaxBytes: 1 << 20, MaxLineBytes: 100, MaxNesting: 64}, "w.jsonl:1: line longer than 100 bytes"},
		{"file too large", file, workload.Limits{MaxBytes: int64(len(file) - 10), MaxLineBytes: 1 << 20, MaxNesting: 64}, "uncompressed size exceeds"},
		{"nested too deep", nested, workload.DefaultLimits(), "w.jsonl:2:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := readAll("w.jsonl", []byte(tc.file), workload.WithLimits(tc.limits))
			if err == nil {
				t.Fatalf("read succeeded, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !errors.Is(err, workload.ErrTooLarge) {
				t.Errorf("error = %q (ErrTooLarge: %v), want it to contain %q", err, errors.Is(err, workload.ErrTooLarge), tc.want)
			}
		})
	}
	if err := readAll("w.jsonl", []byte(file)); err != nil {
		t.Errorf("the file within limits: %v", err)
	}
}

func TestReaderZstdBomb(t *testing.T) {
	// 64 MiB of zeros compresses to a few KB; the size limit must stop it
	// without inflating it all.
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	zw.Write([]byte(headerLine(t) + "\n"))
	zw.Write(make([]byte, 64<<20))
	zw.Close()
	err := readAll("bomb.zst", buf.Bytes(), workload.WithLimits(workload.Limits{MaxBytes: 1 << 20, MaxLineBytes: 1 << 30, MaxNesting: 64}))
	if !errors.Is(err, workload.ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}

func TestOpenMissingFile(t *testing.T) {
	_, err := workload.Open(filepath.Join(t.TempDir(), "nope.jsonl.zst"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotExist", err)
	}
}

func TestParseRef(t *testing.T) {
	hexd := strings.Repeat("ab", 32)
	tests := []struct {
		in      string
		want    workload.Ref
		wantErr bool
	}{
		{in: "agentic-coding-sample", want: workload.Ref{Name: "agentic-coding-sample"}},
		{in: "mix_1.v2@sha256:" + hexd, want: workload.Ref{Name: "mix_1.v2", Digest: workload.Digest("sha256:" + hexd)}},
		{in: "", wantErr: true},
		{in: "Upper", wantErr: true},
		{in: "a/b", wantErr: true},
		{in: "-lead", wantErr: true},
		{in: "a..b", wantErr: true},
		{in: "name@sha256:" + hexd[:10], wantErr: true},
		{in: "name@md5:" + hexd, wantErr: true},
		{in: "name@sha256:" + strings.ToUpper(hexd), wantErr: true},
		{in: strings.Repeat("a", 65), wantErr: true},
	}
	for _, tc := range tests {
		got, err := workload.ParseRef(tc.in)
		if tc.wantErr {
			if err == nil || !errors.Is(err, workload.ErrInvalidRef) {
				t.Errorf("ParseRef(%q) = %v, %v; want ErrInvalidRef", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if got.String() != tc.in {
			t.Errorf("Ref.String() = %q, want %q", got.String(), tc.in)
		}
	}
}
