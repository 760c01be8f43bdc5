package loadgen

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

var testClock = NewClock(time.Now())

// referenceEvents is a plain, non-streaming reading of the event-stream
// rules, the oracle for SSEDecoder: the events' data and how the stream
// ended (io.EOF between events, io.ErrUnexpectedEOF inside one).
func referenceEvents(in []byte) ([]string, error) {
	in = bytes.TrimPrefix(in, []byte("\xef\xbb\xbf"))
	var events []string
	var data []byte
	has := false
	for len(in) > 0 {
		i := bytes.IndexAny(in, "\r\n")
		if i < 0 {
			return events, io.ErrUnexpectedEOF // an unterminated last line
		}
		line := in[:i]
		if in[i] == '\r' && i+1 < len(in) && in[i+1] == '\n' {
			in = in[i+2:]
		} else {
			in = in[i+1:]
		}
		switch {
		case len(line) == 0:
			if has {
				events = append(events, string(data))
			}
			data, has = nil, false
			continue
		case line[0] == ':':
			continue
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if found {
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		if string(name) != "data" {
			continue
		}
		if has {
			data = append(data, '\n')
		}
		data = append(data, value...)
		has = true
	}
	if has {
		return events, io.ErrUnexpectedEOF
	}
	return events, io.EOF
}

// decodeAll runs an SSEDecoder over r to the end.
func decodeAll(t testing.TB, r io.Reader) ([]string, []int64, error) {
	d := NewSSEDecoder(r, testClock, 16, 1<<20)
	var out []string
	var times []int64
	for {
		ev, err := d.Next()
		if err != nil {
			return out, times, err
		}
		out = append(out, string(ev.Data))
		times = append(times, ev.TimeNs)
	}
}

func TestSSEDecoder(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		end  error
	}{
		{"LF", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []string{`{"a":1}`, "[DONE]"}, io.EOF},
		{"CRLF", "data: {\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n", []string{`{"a":1}`, "[DONE]"}, io.EOF},
		{"CR only", "data: x\r\rdata: y\r\r", []string{"x", "y"}, io.EOF},
		{"trailing space after the JSON (TensorRT-LLM)", "data: {\"a\":1} \n\n", []string{`{"a":1} `}, io.EOF},
		{"no space after the colon", "data:{\"a\":1}\n\n", []string{`{"a":1}`}, io.EOF},
		{"only one space stripped", "data:  x\n\n", []string{" x"}, io.EOF},
		{"comment lines", ": ping\n\n: ping\ndata: x\n: more\n\n", []string{"x"}, io.EOF},
		{"several data lines", "data: a\ndata: b\n\n", []string{"a\nb"}, io.EOF},
		{"other fields ignored", "event: message\nid: 7\nretry: 10\ndata: x\n\n", []string{"x"}, io.EOF},
		{"blank lines without data", "\n\n\ndata: x\n\n\n", []string{"x"}, io.EOF},
		{"empty data dispatches", "data:\n\n", []string{""}, io.EOF},
		{"byte-order mark", "\xef\xbb\xbfdata: x\n\n", []string{"x"}, io.EOF},
		{"field without colon", "data\n\n", []string{""}, io.EOF},
		{"closed without [DONE]", "data: x\n\n", []string{"x"}, io.EOF},
		{"closed inside an event", "data: x\n\ndata: y\n", []string{"x"}, io.ErrUnexpectedEOF},
		{"closed inside a line", "data: x\n\ndata: {\"par", []string{"x"}, io.ErrUnexpectedEOF},
		{"trailing CR at the end", "data: x\r\r", []string{"x"}, io.EOF},
		{"empty stream", "", nil, io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := decodeAll(t, strings.NewReader(tc.in))
			if !errors.Is(err, tc.end) {
				t.Fatalf("end = %v, want %v", err, tc.end)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Fatalf("events = %q, want %q", got, tc.want)
			}
			ref, refEnd := referenceEvents([]byte(tc.in))
			if strings.Join(ref, "|") != strings.Join(tc.want, "|") || refEnd != tc.end {
				t.Fatalf("reference disagrees: %q %v", ref, refEnd)
			}
		})
	}
}

// splitReader returns its input in two reads, split at k.
type splitReader struct {
	parts [][]byte
}

func (s *splitReader) Read(p []byte) (int, error) {
	for len(s.parts) > 0 && len(s.parts[0]) == 0 {
		s.parts = s.parts[1:]
	}
	if len(s.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.parts[0])
	s.parts[0] = s.parts[0][n:]
	return n, nil
}

func recordedStreams(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/streams/*.sse")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded streams: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// TestSSESplitAtEveryByte feeds each recorded stream in two reads split at
// every byte boundary, and one byte per read: the events never change.
func TestSSESplitAtEveryByte(t *testing.T) {
	for name, stream := range recordedStreams(t) {
		t.Run(name, func(t *testing.T) {
			want, wantEnd := referenceEvents(stream)
			if len(want) < 3 {
				t.Fatalf("recorded stream has only %d events", len(want))
			}
			check := func(how string, r io.Reader) {
				got, _, err := decodeAll(t, r)
				if !errors.Is(err, wantEnd) || strings.Join(got, "\x00") != strings.Join(want, "\x00") {
					t.Fatalf("%s: events %q end %v, want %q end %v", how, got, err, want, wantEnd)
				}
			}
			for k := 0; k <= len(stream); k++ {
				check("split", &splitReader{parts: [][]byte{bytes.Clone(stream[:k]), bytes.Clone(stream[k:])}})
			}
			check("one byte per read", iotest.OneByteReader(bytes.NewReader(stream)))
			check("half-reads", iotest.HalfReader(bytes.NewReader(stream)))
		})
	}
}

// TestSSEManyEventsInOneRead: a single read holding many events yields them
// all, stamped with that read's time.
func TestSSEManyEventsInOneRead(t *testing.T) {
	var b strings.Builder
	for range 500 {
		b.WriteString("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n")
	}
	d := NewSSEDecoder(&splitReader{parts: [][]byte{[]byte(b.String())}}, testClock, 1<<20, 1<<20)
	var first int64
	for i := range 500 {
		ev, err := d.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if i == 0 {
			first = ev.TimeNs
		}
		if ev.TimeNs != first {
			t.Fatalf("event %d stamped %d, want the read's %d", i, ev.TimeNs, first)
		}
	}
	if _, err := d.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("end = %v", err)
	}
}

// TestSSEStampsTheCompletingRead: an event split across two reads gets the
// time of the second.
func TestSSEStampsTheCompletingRead(t *testing.T) {
	pr, pw := io.Pipe()
	d := NewSSEDecoder(pr, testClock, 64, 1<<20)
	go func() {
		pw.Write([]byte("data: {\"a\""))
		time.Sleep(30 * time.Millisecond)
		pw.Write([]byte(":1}\n\n"))
		pw.Close()
	}()
	before := testClock.Now()
	ev, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	if lag := time.Duration(ev.TimeNs - before); lag < 30*time.Millisecond {
		t.Fatalf("event stamped %v after the start, before its second half was written", lag)
	}
}

func TestSSEEventTooLarge(t *testing.T) {
	in := "data: " + strings.Repeat("x", 5000) + "\n\n"
	d := NewSSEDecoder(strings.NewReader(in), testClock, 256, 4096)
	if _, err := d.Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("err = %v, want ErrEventTooLarge", err)
	}
	// Within the limit the buffer grows.
	d = NewSSEDecoder(strings.NewReader(in), testClock, 256, 8192)
	if ev, err := d.Next(); err != nil || len(ev.Data) != 5000 {
		t.Fatalf("len %d err %v", len(ev.Data), err)
	}
}

func TestSSEReadError(t *testing.T) {
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader("data: x\n\ndata: y"), iotest.ErrReader(boom))
	got, _, err := decodeAll(t, r)
	if !errors.Is(err, boom) || len(got) != 1 {
		t.Fatalf("events %q err %v", got, err)
	}
}

func TestEventIsDone(t *testing.T) {
	for _, tc := range []struct {
		data string
		want bool
	}{{"[DONE]", true}, {"[DONE] ", true}, {"[DONE]\r", true}, {"{}", false}, {"[done]", false}} {
		if got := (Event{Data: []byte(tc.data)}).IsDone(); got != tc.want {
			t.Fatalf("IsDone(%q) = %v", tc.data, got)
		}
	}
}

// crlfMultiLine is one event of two data lines with CRLF line ends;
// crlfMultiLineSplit falls between the first line's CR and its LF.
const (
	crlfMultiLine      = "data: {\"a\":1}\r\ndata: {\"b\":2}\r\n\r\ndata: [DONE]\r\n\r\n"
	crlfMultiLineSplit = len("data: {\"a\":1}\r")
)

// TestSSECRLFSplitBetweenCRAndLF: a read that ends on a CR must wait for the
// next byte. Taking the CR as the line end would make the LF that follows an
// empty line, which dispatches the event after its first data line: two
// events where the stream has one.
func TestSSECRLFSplitBetweenCRAndLF(t *testing.T) {
	want := []string{"{\"a\":1}\n{\"b\":2}", "[DONE]"}
	ref, refEnd := referenceEvents([]byte(crlfMultiLine))
	if strings.Join(ref, "|") != strings.Join(want, "|") || refEnd != io.EOF {
		t.Fatalf("reference reading = %q %v, want %q", ref, refEnd, want)
	}
	in := []byte(crlfMultiLine)
	if in[crlfMultiLineSplit-1] != '\r' || in[crlfMultiLineSplit] != '\n' {
		t.Fatalf("split %d is not between a CR and an LF", crlfMultiLineSplit)
	}
	got, _, err := decodeAll(t, &splitReader{parts: [][]byte{bytes.Clone(in[:crlfMultiLineSplit]), bytes.Clone(in[crlfMultiLineSplit:])}})
	if !errors.Is(err, io.EOF) || len(got) != len(want) || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("events = %q end %v, want %q", got, err, want)
	}
}
