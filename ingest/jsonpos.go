package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/agentwatt/agentwatt/workload"
)

// jpath is a JSON path: object keys (string) and array indices (int).
type jpath []any

func (p jpath) key(k string) jpath { return append(p[:len(p):len(p)], k) }
func (p jpath) idx(i int) jpath    { return append(p[:len(p):len(p)], i) }

func (p jpath) String() string {
	var b strings.Builder
	for _, e := range p {
		switch v := e.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(v)
		case int:
			b.WriteString("[" + strconv.Itoa(v) + "]")
		}
	}
	return b.String()
}

// doc is one JSON document (a whole file, or one line of a JSONL file) and
// where it sits, so that errors can name FILE:LINE:COL.
type doc struct {
	file string
	data []byte
	line int // line of data[0] in the file (1-based)
}

// errorf returns a FormatError at the value path points to.
func (d *doc) errorf(p jpath, format string, args ...any) error {
	fe := &workload.FormatError{File: d.file, Line: d.line, Path: p.String(), Msg: fmt.Sprintf(format, args...)}
	// A missing key has no position: point at the object that lacks it.
	for at := p; ; at = at[:len(at)-1] {
		if off, ok := offsetOf(d.data, at); ok {
			fe.Line, fe.Col = d.lineCol(off)
			break
		}
		if len(at) == 0 {
			break
		}
	}
	return fe
}

// lineCol converts a byte offset in d.data to a file line and column.
func (d *doc) lineCol(off int64) (int, int) {
	off = min(max(off, 0), int64(len(d.data)))
	before := d.data[:off]
	line := d.line + bytes.Count(before, []byte{'\n'})
	col := int(off) + 1
	if i := bytes.LastIndexByte(before, '\n'); i >= 0 {
		col = int(off) - i
	}
	return line, col
}

// decode unmarshals d.data into v (which may ignore unknown fields) and
// turns a JSON error into a located FormatError.
func (d *doc) decode(v any, maxNesting int) error {
	if off, ok := workload.NestingOK(d.data, maxNesting); !ok {
		line, col := d.lineCol(int64(off))
		return &workload.FormatError{File: d.file, Line: line, Col: col, Msg: fmt.Sprintf("JSON nested deeper than %d", maxNesting), Err: workload.ErrTooLarge}
	}
	err := json.Unmarshal(d.data, v)
	if err == nil {
		return nil
	}
	fe := &workload.FormatError{File: d.file, Line: d.line, Err: err}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se) && len(bytes.TrimSpace(d.data)) == 0:
		fe.Msg = "empty input: no JSON value"
	case errors.As(err, &se):
		fe.Line, fe.Col = d.lineCol(se.Offset - 1)
		fe.Msg = "invalid JSON: " + se.Error()
	case errors.As(err, &te):
		fe.Line, fe.Col = d.lineCol(te.Offset - 1)
		fe.Path = te.Field
		fe.Msg = fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		fe.Line, fe.Col = d.lineCol(int64(len(d.data)))
		fe.Msg = "invalid JSON: unexpected end of input"
	default:
		fe.Msg = err.Error()
	}
	return fe
}

// offsetOf finds the byte offset where the value at path starts. It is only
// used to place error messages, so it re-reads the document.
func offsetOf(data []byte, path jpath) (int64, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	for _, step := range path {
		tok, err := dec.Token()
		if err != nil {
			return 0, false
		}
		delim, _ := tok.(json.Delim)
		switch s := step.(type) {
		case string:
			if delim != '{' {
				return 0, false
			}
			for {
				k, err := dec.Token()
				if err != nil {
					return 0, false
				}
				ks, ok := k.(string)
				if !ok {
					return 0, false // '}' : key not present
				}
				if ks == s {
					break
				}
				if skipValue(dec) != nil {
					return 0, false
				}
			}
		case int:
			if delim != '[' {
				return 0, false
			}
			for i := 0; i < s; i++ {
				if !dec.More() || skipValue(dec) != nil {
					return 0, false
				}
			}
			if !dec.More() {
				return 0, false
			}
		}
	}
	off := dec.InputOffset()
	for off < int64(len(data)) && strings.IndexByte(" \t\r\n:,", data[off]) >= 0 {
		off++
	}
	return off, true
}

func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}
