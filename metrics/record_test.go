package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/klauspost/compress/zstd"
)

func sampleRecord(i int) Request {
	r := Request{
		Probe: 3, Phase: PhaseWindow, Agent: i % 97, Session: fmt.Sprintf("s-%d", i%97), Subagent: "",
		Trajectory: "traj-0042", Turn: i % 31,
		TSendNs: int64(i) * 1_000_003, TFirstNs: int64(i)*1_000_003 + 812_000_000, TLastNs: int64(i)*1_000_003 + 5_000_000_000,
		PromptTokens: 20_000 + i, CompletionTokens: 150, TargetPromptTokens: 20_010 + i, TargetCompletionTokens: 150,
		Chunks: 150, Status: StatusOK, TokenCountSource: TokenSourceUsage,
	}
	if i%3 == 0 {
		r.CachedTokens = Int(18_000)
	}
	if i%50 == 0 {
		r.ChunkOffsetsNs = []int64{812_000_000, 837_000_000, 862_000_000}
	}
	if i%7 == 0 {
		r.Subagent = "explore"
	}
	return r
}

func TestRecordJSONMatchesEncodingJSON(t *testing.T) {
	cases := []Request{
		sampleRecord(0), sampleRecord(1), sampleRecord(7),
		{Phase: PhaseSettle, Status: StatusError, Error: "http 503: \"overloaded\" <retry> & \u2028 \x01 tab\t", TokenCountSource: TokenSourceClient},
		{Phase: "custom", Status: StatusTruncated, Error: "bad utf8 \xff\xfe end", Session: "é😀", TFirstNs: -5},
	}
	for i, r := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			mine := r.AppendJSON(nil)
			std, err := json.Marshal(&r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mine, std) {
				t.Fatalf("AppendJSON differs from encoding/json:\n mine %s\n std  %s", mine, std)
			}
			var back Request
			if err := back.DecodeJSON(mine); err != nil {
				t.Fatal(err)
			}
			var stdBack Request
			if err := json.Unmarshal(std, &stdBack); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, stdBack) {
				t.Fatalf("DecodeJSON = %+v\nencoding/json = %+v", back, stdBack)
			}
		})
	}
}

func TestRecordDecodeRejects(t *testing.T) {
	rec := sampleRecord(1)
	good := string(rec.AppendJSON(nil))
	tests := []struct {
		name, line, want string
	}{
		{"unknown field", strings.Replace(good, `{"probe"`, `{"extra":1,"probe"`, 1), "unknown field"},
		{"duplicate field", strings.Replace(good, `{"probe":3`, `{"probe":3,"probe":4`, 1), "duplicate"},
		{"missing field", strings.Replace(good, `"chunks":150,`, ``, 1), `missing field "chunks"`},
		{"fraction", strings.Replace(good, `"chunks":150`, `"chunks":150.5`, 1), "fraction"},
		{"leading zero", strings.Replace(good, `"chunks":150`, `"chunks":0150`, 1), "leading zero"},
		{"string for int", strings.Replace(good, `"chunks":150`, `"chunks":"150"`, 1), "expected an integer"},
		{"overflow", strings.Replace(good, `"t_send_ns":1000003`, `"t_send_ns":9223372036854775808`, 1), "out of range"},
		{"trailing data", good + `{}`, "after the object"},
		{"not an object", `[1]`, "expected {"},
		{"control char", strings.Replace(good, `"traj-0042"`, "\"traj\x01\"", 1), "control character"},
		{"bad escape", strings.Replace(good, `"traj-0042"`, `"traj\q"`, 1), "bad escape"},
		{"unterminated", good[:40], ""},
		{"wrong key case", strings.Replace(good, `"probe"`, `"Probe"`, 1), "unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			err := r.DecodeJSON([]byte(tc.line))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRecordDecodeNullsAndSpaces(t *testing.T) {
	line := ` { "probe" : 1 , "phase":"warmup","agent":2,"session":"s","subagent":"","trajectory":"t","turn":0,
	"t_send_ns":1,"t_first_ns":2,"t_last_ns":3,"prompt_tokens":4,"cached_tokens":null,"completion_tokens":5,
	"target_prompt_tokens":6,"target_completion_tokens":7,"chunks":8,"status":"ok","error":"",
	"token_count_source":"usage","chunk_offsets_ns":null } `
	r := Request{CachedTokens: Int(5), ChunkOffsetsNs: []int64{1}}
	if err := r.DecodeJSON([]byte(line)); err != nil {
		t.Fatal(err)
	}
	if r.CachedTokens.Known || r.ChunkOffsetsNs != nil || r.Phase != PhaseWarmup || r.Chunks != 8 {
		t.Fatalf("decoded %+v", r)
	}
}

func TestRecordWriterReaderRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewRecordWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	for i := range n {
		r := sampleRecord(i)
		if err := w.Write(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rr, err := NewRecordReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	var r Request
	for i := range n {
		if err := rr.Next(&r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if want := sampleRecord(i); !reflect.DeepEqual(r, want) {
			t.Fatalf("record %d = %+v, want %+v", i, r, want)
		}
	}
	if err := rr.Next(&r); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last record: %v", err)
	}
}

// TestRecordReaderDiscardText: with DiscardText and SkipChecksum a reader
// returns the same records but for Session and Error, left empty; a
// session or error that is not a JSON string is still refused.
func TestRecordReaderDiscardText(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewRecordWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		r := sampleRecord(i)
		r.Error = fmt.Sprintf("error %d", i)
		if i%5 == 0 {
			r.Session = "é\u2028" // not the fast path's plain ASCII
		}
		if err := w.Write(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rr, err := NewRecordReaderWithOptions(bytes.NewReader(buf.Bytes()), RecordReaderOptions{DiscardText: true, SkipChecksum: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	var r Request
	for i := range n {
		if err := rr.Next(&r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		want := sampleRecord(i)
		want.Session = ""
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("record %d = %+v, want %+v", i, r, want)
		}
	}
	for _, line := range []string{
		strings.Replace(string(mustJSON(t, sampleRecord(1))), `"session":"s-1"`, `"session":1`, 1),
		strings.Replace(string(mustJSON(t, sampleRecord(1))), `"error":""`, `"error":"\q"`, 1),
	} {
		var r Request
		if err := r.decode([]byte(line), true, nil); err == nil {
			t.Errorf("accepted %s", line)
		}
	}
}

func mustJSON(t *testing.T, r Request) []byte {
	t.Helper()
	return r.AppendJSON(nil)
}

func compress(t testing.TB, s string) []byte {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRecordReaderErrors(t *testing.T) {
	rec := sampleRecord(1)
	good := string(rec.AppendJSON(nil))
	tests := []struct {
		name    string
		data    string
		opt     RecordReaderOptions
		line    int
		wantErr error
	}{
		{"bad second line", good + "\n" + "{\"probe\":1}\n", RecordReaderOptions{}, 2, errSyntax},
		{"blank line", good + "\n\n" + good + "\n", RecordReaderOptions{}, 2, errSyntax},
		{"line too long", good + "\n" + strings.Repeat(" ", 5000) + good + "\n", RecordReaderOptions{MaxLineBytes: 4096}, 2, ErrLineTooLong},
		{"too many bytes", strings.Repeat(good+"\n", 100), RecordReaderOptions{MaxTotalBytes: 10_000}, 0, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rr, err := NewRecordReaderWithOptions(bytes.NewReader(compress(t, tc.data)), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Close()
			var r Request
			for {
				err = rr.Next(&r)
				if err != nil {
					break
				}
			}
			var re *RecordError
			if !errors.As(err, &re) || !errors.Is(err, tc.wantErr) || (tc.line > 0 && re.Line != tc.line) {
				t.Fatalf("err = %v, want %v on line %d", err, tc.wantErr, tc.line)
			}
		})
	}
}

func TestRecordReaderLastLineWithoutNewline(t *testing.T) {
	rec := sampleRecord(1)
	good := string(rec.AppendJSON(nil))
	rr, err := NewRecordReader(bytes.NewReader(compress(t, good+"\n"+good)))
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	var r Request
	for i := range 2 {
		if err := rr.Next(&r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := rr.Next(&r); !errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want EOF", err)
	}
}

func TestRecordReaderNotZstd(t *testing.T) {
	rr, err := NewRecordReader(strings.NewReader("not zstd at all\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	var r Request
	if err := rr.Next(&r); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want a decompression error", err)
	}
}

// FuzzRecordDecode: DecodeJSON never panics, accepts only what
// encoding/json reads the same way, and round-trips through AppendJSON.
func FuzzRecordDecode(f *testing.F) {
	for i := range 3 {
		r := sampleRecord(i * 7)
		f.Add(r.AppendJSON(nil))
	}
	f.Add([]byte(`{"probe":1,"phase":"x\u00e9\ud83d\ude00\ud800","agent":-0,"session":"","subagent":"","trajectory":"t","turn":0,"t_send_ns":1,"t_first_ns":2,"t_last_ns":3,"prompt_tokens":4,"cached_tokens":null,"completion_tokens":5,"target_prompt_tokens":6,"target_completion_tokens":7,"chunks":8,"status":"ok","error":"\\\"\/\b\f\n\r\t","token_count_source":"usage","chunk_offsets_ns":[]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"probe":01}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var mine Request
		if err := mine.DecodeJSON(line); err != nil {
			return
		}
		var std Request
		if err := json.Unmarshal(line, &std); err != nil {
			t.Fatalf("DecodeJSON accepted what encoding/json rejects (%v): %q", err, line)
		}
		if len(std.ChunkOffsetsNs) == 0 && len(mine.ChunkOffsetsNs) == 0 {
			std.ChunkOffsetsNs, mine.ChunkOffsetsNs = nil, nil
		}
		if !reflect.DeepEqual(mine, std) {
			t.Fatalf("DecodeJSON = %+v\nencoding/json = %+v\ninput %q", mine, std, line)
		}
		var again Request
		if err := again.DecodeJSON(mine.AppendJSON(nil)); err != nil || !reflect.DeepEqual(again, mine) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, again, mine)
		}
	})
}

func BenchmarkRecordRead(b *testing.B) {
	var buf bytes.Buffer
	w, _ := NewRecordWriter(&buf)
	const n = 100_000
	for i := range n {
		r := sampleRecord(i)
		_ = w.Write(&r)
	}
	_ = w.Close()
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rr, err := NewRecordReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		var r Request
		count := 0
		for rr.Next(&r) == nil {
			count++
		}
		rr.Close()
		if count != n {
			b.Fatalf("read %d records", count)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}

func BenchmarkRecordDecodeJSON(b *testing.B) {
	r := sampleRecord(3)
	line := r.AppendJSON(nil)
	var out Request
	b.ReportAllocs()
	for b.Loop() {
		if err := out.DecodeJSON(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordDecodeJSONGeneral is the decoder DecodeJSON falls back to
// for lines not written by AppendJSON.
func BenchmarkRecordDecodeJSONGeneral(b *testing.B) {
	r := sampleRecord(3)
	line := r.AppendJSON(nil)
	var out Request
	b.ReportAllocs()
	for b.Loop() {
		if err := out.decodeGeneral(line, false); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzRecordDecodeCanonical: the fast path accepts only lines the general
// decoder reads, and reads them the same way.
func FuzzRecordDecodeCanonical(f *testing.F) {
	for i := range 8 {
		r := sampleRecord(i * 7)
		f.Add(r.AppendJSON(nil))
	}
	neg := Request{Probe: -1, Agent: -0, TSendNs: -5, TFirstNs: 999_999_999_999_999_999, Status: "custom", Phase: "p", TokenCountSource: "x", ChunkOffsetsNs: []int64{-1, 0, 7}}
	f.Add(neg.AppendJSON(nil))
	empty := Request{ChunkOffsetsNs: []int64{}}
	f.Add(append(empty.AppendJSON(nil)[:len(empty.AppendJSON(nil))-1], `,"chunk_offsets_ns":[]}`...))
	f.Add([]byte(`{"probe":1,"phase":"window","agent":0,"session":"s","subagent":"","trajectory":"t","turn":0,"t_send_ns":1,"t_first_ns":2,"t_last_ns":3,"prompt_tokens":4,"cached_tokens":null,"completion_tokens":5,"target_prompt_tokens":6,"target_completion_tokens":7,"chunks":8,"status":"ok","error":"","token_count_source":"usage"} `))
	f.Add([]byte(`{"probe":1,"phase":"window","agent":0,"session":"s","subagent":"","trajectory":"t","turn":0,"t_send_ns":1234567890123456789,"t_first_ns":2,"t_last_ns":3,"prompt_tokens":4,"cached_tokens":01,"completion_tokens":5,"target_prompt_tokens":6,"target_completion_tokens":7,"chunks":8,"status":"ok","error":"","token_count_source":"usage","chunk_offsets_ns":null}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast Request
		if !fast.decodeCanonical(line, false, nil) {
			return
		}
		var general Request
		if err := general.decodeGeneral(line, false); err != nil {
			t.Fatalf("the fast path accepted what the general decoder rejects (%v): %q", err, line)
		}
		if !reflect.DeepEqual(fast, general) {
			t.Fatalf("fast %+v\ngeneral %+v\ninput %q", fast, general, line)
		}
		var fastI Request
		if !fastI.decodeCanonical(line, false, newInterner(1)) || !reflect.DeepEqual(fastI, fast) {
			t.Fatalf("with interned ids: %+v\nwithout %+v\ninput %q", fastI, fast, line)
		}
		var fastD, generalD Request
		if !fastD.decodeCanonical(line, true, nil) || generalD.decodeGeneral(line, true) != nil || !reflect.DeepEqual(fastD, generalD) {
			t.Fatalf("discarding text: fast %+v\ngeneral %+v\ninput %q", fastD, generalD, line)
		}
	})
}

// TestRecordDecodeCanonicalTaken: lines AppendJSON writes take the fast
// path (the benchmarks' figures depend on it).
func TestRecordDecodeCanonicalTaken(t *testing.T) {
	for i := range 60 {
		r := sampleRecord(i)
		var got Request
		if line := r.AppendJSON(nil); !got.decodeCanonical(line, false, nil) {
			t.Fatalf("record %d: fast path refused %s", i, line)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("record %d: got %+v, want %+v", i, got, r)
		}
	}
}

// TestInterner: equal ids come back as one string while there is room,
// and as correct fresh strings past the bound.
func TestInterner(t *testing.T) {
	in := newInterner(2)
	a1, a2 := in.get([]byte("traj-a")), in.get([]byte("traj-a"))
	if a1 != "traj-a" || unsafe.StringData(a1) != unsafe.StringData(a2) {
		t.Fatalf("traj-a: %q %q not shared", a1, a2)
	}
	in.get([]byte("traj-b"))
	c1, c2 := in.get([]byte("traj-c")), in.get([]byte("traj-c"))
	if c1 != "traj-c" || c2 != "traj-c" || len(in.m) != 2 {
		t.Fatalf("past the bound: %q %q, %d held", c1, c2, len(in.m))
	}
}
