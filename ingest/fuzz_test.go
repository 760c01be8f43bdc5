package ingest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/agentwatt/agentwatt/workload"
)

// fuzzConvert checks the two promises of every converter on arbitrary
// input: a rejection is a located *workload.FormatError, and an accepted
// input becomes a valid workload with exactly one turn per record.
func fuzzConvert(t *testing.T, format string, data []byte) {
	src := workload.Source{ID: format + ":fuzz", Format: format, File: "fuzz", Licence: "unknown"}
	opts := Options{Name: "fuzz", Limits: Limits{MaxFileBytes: 4 << 20, MaxLineBytes: 1 << 20, MaxNesting: 64},
		Mooncake: MooncakeOptions{}.withDefaults()}
	var (
		c   *converted
		err error
	)
	switch format {
	case FormatWeka:
		c, _, err = convertWekaDoc(traceDoc{file: "fuzz", line: 1, data: data}, 0, src, opts)
	case FormatMooncake:
		c, err = convertMooncake(data, "fuzz", 0, src, opts)
	case FormatOpenAIChat:
		c, err = convertOpenAIChat(data, "fuzz", 0, src, opts)
	}
	if err != nil {
		var fe *workload.FormatError
		if !errors.As(err, &fe) || fe.File != "fuzz" || fe.Line < 1 {
			t.Fatalf("error without a location: %v", err)
		}
		return
	}
	hdr := workload.Header{Format: workload.FormatName, Version: workload.FormatVersion, Name: "fuzz", Sources: []workload.Source{c.src}}
	if err := hdr.Validate(); err != nil {
		t.Fatalf("invalid header: %v", err)
	}
	turns := 0
	for _, tr := range c.trajectories {
		if err := workload.ValidateTrajectory(&hdr, tr); err != nil {
			t.Fatalf("converted trajectory %s is invalid: %v", tr.ID, err)
		}
		tr.Walk(func(x *workload.Trajectory, _ int) { turns += len(x.Turns) })
	}
	if turns != c.records {
		t.Fatalf("%d records became %d turns", c.records, turns)
	}
}

func addFile(f *testing.F, path string, maxLines int) {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	if maxLines > 0 {
		lines := bytes.SplitAfter(b, []byte("\n"))
		b = bytes.Join(lines[:min(maxLines, len(lines))], nil)
	}
	f.Add(b)
}

func FuzzWeka(f *testing.F) {
	// The parent-only real trace (17 KB); the 350 KB one with sub-agents
	// slows the fuzzer to a crawl, so a small sub-agent seed stands in.
	addFile(f, "testdata/weka/sample_trace.json", 0)
	f.Add([]byte(`{"id":"c","block_size":4,"requests":[{"t":0,"type":"n","in":9,"out":2,"hash_ids":[1,2]},` +
		`{"t":1,"type":"subagent","agent_id":"a","requests":[{"t":0,"type":"s","in":5,"out":1,"hash_ids":[7]}]},` +
		`{"t":5,"type":"s","in":13,"out":2,"hash_ids":[1,2,3],"think_time":1}]}`))
	f.Add([]byte(`{"id":"c","block_size":0,"requests":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzConvert(t, FormatWeka, data) })
}

func FuzzMooncake(f *testing.F) {
	// Real seeds, kept small: the fuzzer slows to a crawl on large inputs.
	addFile(f, "testdata/mooncake/conversation_trace.jsonl", 20)
	addFile(f, "testdata/mooncake/synthetic_trace.jsonl", 10)
	f.Add([]byte("{\"timestamp\": 0, \"input_length\": 1000, \"output_length\": 5, \"hash_ids\": [0, 1]}\n" +
		"{\"timestamp\": 10, \"input_length\": 1600, \"output_length\": 5, \"hash_ids\": [0, 1, 2, 3]}\n" +
		"{\"timestamp\": 20, \"input_length\": 1700, \"output_length\": 5, \"hash_ids\": [0, 1, 2, 4]}\n"))
	f.Add([]byte(`{"timestamp": 0, "input_length": 1, "output_length": 0, "hash_ids": []}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzConvert(t, FormatMooncake, data) })
}

func FuzzOpenAIChat(f *testing.F) {
	addFile(f, "testdata/openai-chat/marshmallow-code__marshmallow-1867.traj", 0)
	f.Add([]byte(`{"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"u"}]},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"t","function":{"name":"ls","arguments":{"d":1}}}],"usage":{"completion_tokens":3}},` +
		`{"role":"tool","tool_call_id":"t","content":"x"},{"role":"assistant","content":"done"}]}` + "\n" +
		`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}],"usage":{"completion_tokens":1}}`))
	f.Add([]byte(`{"history":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}],"trajectory":[{"execution_time":1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzConvert(t, FormatOpenAIChat, data) })
}

// FuzzTraceReader: any bytes, read as a .tar, .jsonl or .json input
// (zstd or not, sniffed), give documents within the limits or located
// errors, and never panic.
func FuzzTraceReader(f *testing.F) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	body := []byte(`{"id":"c","block_size":4,"requests":[{"t":0,"type":"n","in":9,"out":2,"hash_ids":[1,2]}]}`)
	tw.WriteHeader(&tar.Header{Name: "a.json", Typeflag: tar.TypeReg, Size: int64(len(body)), Mode: 0o644})
	tw.Write(body)
	tw.WriteHeader(&tar.Header{Name: "../b.json", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"})
	tw.Close()
	enc, _ := zstd.NewWriter(nil)
	for _, seed := range [][]byte{tb.Bytes(), enc.EncodeAll(tb.Bytes(), nil), append(append(body, '\n'), body...), enc.EncodeAll(body, nil)} {
		for kind := range byte(3) {
			f.Add(kind, seed)
		}
	}
	lim := Limits{MaxFileBytes: 1 << 16, MaxLineBytes: 1 << 12, MaxNesting: 64, MaxInputBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, kind byte, data []byte) {
		name := []string{"in.tar", "in.jsonl", "in.json"}[int(kind)%3]
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r := newTraceReader(p, lim, nil)
		err := r.each(context.Background(), func(d traceDoc, entryErr error) error {
			if entryErr != nil {
				if !errors.Is(entryErr, errEntry) || !strings.HasPrefix(entryErr.Error(), p) {
					t.Fatalf("entry error %v is not located in %s", entryErr, p)
				}
				return nil
			}
			if int64(len(d.data)) > lim.MaxFileBytes || d.line < 1 || !strings.HasPrefix(d.file, p) {
				t.Fatalf("document %s:%d of %d bytes breaks the limits", d.file, d.line, len(d.data))
			}
			return nil
		})
		if err != nil && !strings.Contains(err.Error(), p) {
			t.Fatalf("error %v does not name the input", err)
		}
	})
}
