package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzSSE decodes arbitrary streams whole, split at a fuzzed point and one
// byte per read: the events must match the reference reading each time, and
// every event's data must parse (or be rejected) as encoding/json would.
func FuzzSSE(f *testing.F) {
	files, _ := filepath.Glob("testdata/streams/*.sse")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(len(b)/2))
	}
	for _, s := range []string{
		"data: {\"a\":1}\r\n\r\n", "data: {} \n\n", ": ping\n\n", "data: x\r\rdata: y\n", "\xef\xbb\xbfdata: x\n\n",
		"data: a\ndata: b\n\n", "data: [DONE]\n\n", "data: {\"error\":{\"message\":\"boom\"}}\n\n", "data: x\r",
		"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":null}}}\n\n",
	} {
		f.Add([]byte(s), uint16(3))
	}
	// A multi-line CRLF event split between a CR and its LF: the CR alone
	// must not end the line (see TestSSECRLFSplitBetweenCRAndLF).
	f.Add([]byte(crlfMultiLine), uint16(crlfMultiLineSplit))
	f.Fuzz(func(t *testing.T, stream []byte, split uint16) {
		want, wantEnd := referenceEvents(stream)
		k := 0
		if len(stream) > 0 {
			k = int(split) % (len(stream) + 1)
		}
		for how, r := range map[string]interface{ Read([]byte) (int, error) }{
			"whole":    &splitReader{parts: [][]byte{bytes.Clone(stream)}},
			"split":    &splitReader{parts: [][]byte{bytes.Clone(stream[:k]), bytes.Clone(stream[k:])}},
			"one byte": iotest.OneByteReader(bytes.NewReader(stream)),
		} {
			got, _, err := decodeAll(t, r)
			if !errors.Is(err, wantEnd) || strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
				t.Fatalf("%s: events %q end %v, want %q end %v", how, got, err, want, wantEnd)
			}
		}
		for _, data := range want {
			checkChunk(t, []byte(data))
		}
		checkChunk(t, stream)
	})
}

// checkChunk: whatever ParseChunk accepts, encoding/json accepts and reads
// the same way; whatever encoding/json rejects, ParseChunk rejects.
func checkChunk(t *testing.T, data []byte) {
	var got Chunk
	err := ParseChunk(data, &got)
	if err != nil {
		if !errors.Is(err, ErrMalformedChunk) {
			t.Fatalf("ParseChunk(%q) = %v, not ErrMalformedChunk", data, err)
		}
		return
	}
	if !json.Valid(data) {
		t.Fatalf("ParseChunk accepted invalid JSON %q", data)
	}
	ref, rerr := referenceChunk(data)
	if rerr != nil || !sameChunk(ref, got) {
		t.Fatalf("ParseChunk(%q) = %+v, reference %+v (%v)", data, got, ref, rerr)
	}
}
