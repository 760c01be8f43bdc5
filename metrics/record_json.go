package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The record's JSON is encoded and decoded by hand: the verifier reads
// millions of records per bundle, and encoding/json's reflection costs
// several times the decompression. The format is exactly what encoding/json
// reads and writes for Request's tags; the decoder is stricter (no unknown or
// duplicate fields, every field but chunk_offsets_ns present, exact key case).

// AppendJSON appends the record as one JSON object, without a newline.
// Strings are escaped like encoding/json does, invalid UTF-8 becoming U+FFFD.
func (r *Request) AppendJSON(b []byte) []byte {
	b = append(b, `{"probe":`...)
	b = strconv.AppendInt(b, int64(r.Probe), 10)
	b = append(b, `,"phase":`...)
	b = appendString(b, r.Phase)
	b = append(b, `,"agent":`...)
	b = strconv.AppendInt(b, int64(r.Agent), 10)
	b = append(b, `,"session":`...)
	b = appendString(b, r.Session)
	b = append(b, `,"subagent":`...)
	b = appendString(b, r.Subagent)
	b = append(b, `,"trajectory":`...)
	b = appendString(b, r.Trajectory)
	b = append(b, `,"turn":`...)
	b = strconv.AppendInt(b, int64(r.Turn), 10)
	b = append(b, `,"t_send_ns":`...)
	b = strconv.AppendInt(b, r.TSendNs, 10)
	b = append(b, `,"t_first_ns":`...)
	b = strconv.AppendInt(b, r.TFirstNs, 10)
	b = append(b, `,"t_last_ns":`...)
	b = strconv.AppendInt(b, r.TLastNs, 10)
	b = append(b, `,"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(r.PromptTokens), 10)
	b = append(b, `,"cached_tokens":`...)
	if r.CachedTokens.Known {
		b = strconv.AppendInt(b, int64(r.CachedTokens.Value), 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(r.CompletionTokens), 10)
	b = append(b, `,"target_prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(r.TargetPromptTokens), 10)
	b = append(b, `,"target_completion_tokens":`...)
	b = strconv.AppendInt(b, int64(r.TargetCompletionTokens), 10)
	b = append(b, `,"chunks":`...)
	b = strconv.AppendInt(b, int64(r.Chunks), 10)
	b = append(b, `,"status":`...)
	b = appendString(b, r.Status)
	b = append(b, `,"error":`...)
	b = appendString(b, r.Error)
	b = append(b, `,"token_count_source":`...)
	b = appendString(b, r.TokenCountSource)
	if len(r.ChunkOffsetsNs) > 0 {
		b = append(b, `,"chunk_offsets_ns":[`...)
		for i, o := range r.ChunkOffsetsNs {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, o, 10)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendString appends s as a JSON string, quoted, with encoding/json's
// escaping.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = AppendJSONString(b, s, true)
	return append(b, '"')
}

// Fields of the record, as bits of the set of fields seen.
const (
	fProbe = 1 << iota
	fPhase
	fAgent
	fSession
	fSubagent
	fTrajectory
	fTurn
	fTSend
	fTFirst
	fTLast
	fPrompt
	fCached
	fCompletion
	fTargetPrompt
	fTargetCompletion
	fChunks
	fStatus
	fError
	fSource
	fOffsets
	fRequired = fSource<<1 - 1 // every field but chunk_offsets_ns
)

var fieldNames = [...]string{"probe", "phase", "agent", "session", "subagent", "trajectory", "turn",
	"t_send_ns", "t_first_ns", "t_last_ns", "prompt_tokens", "cached_tokens", "completion_tokens",
	"target_prompt_tokens", "target_completion_tokens", "chunks", "status", "error",
	"token_count_source", "chunk_offsets_ns"}

// fieldKeys are the field names as AppendJSON writes them: `"name":`.
var fieldKeys = func() (k [len(fieldNames)]string) {
	for i, n := range fieldNames {
		k[i] = `"` + n + `":`
	}
	return k
}()

// errSyntax is wrapped with the byte offset where decoding failed.
var errSyntax = errors.New("invalid record JSON")

// DecodeJSON reads one record from a JSON object, replacing every field of r.
// Strings equal to the ones r already holds are kept without allocating, so
// decoding a stream into one reused Request is cheap; ChunkOffsetsNs is always
// a fresh slice.
func (r *Request) DecodeJSON(line []byte) error { return r.decode(line, false, nil) }

// decode is DecodeJSON, discarding Session and Error when discard is set
// and taking trajectory and sub-agent ids from ids when not nil.
func (r *Request) decode(line []byte, discard bool, ids *interner) error {
	r.ChunkOffsetsNs = nil
	if r.decodeCanonical(line, discard, ids) {
		return nil
	}
	return r.decodeGeneral(line, discard)
}

// decodeGeneral is DecodeJSON for any JSON object: fields in any order,
// white space, escapes; it says where a line is wrong.
func (r *Request) decodeGeneral(line []byte, discard bool) error {
	d := recordDecoder{b: line, discard: discard}
	r.ChunkOffsetsNs = nil
	var seen uint32
	d.ws()
	if !d.consume('{') {
		return d.fail("expected {")
	}
	d.ws()
	if d.consume('}') {
		return d.missing(seen)
	}
	next := 0 // the field AppendJSON writes next: tried first, without scanning the key
	for {
		d.ws()
		idx := -1
		if next < len(fieldKeys) && len(d.b)-d.i >= len(fieldKeys[next]) &&
			string(d.b[d.i:d.i+len(fieldKeys[next])]) == fieldKeys[next] {
			idx = next
			d.i += len(fieldKeys[next])
		} else {
			key, ok := d.rawKey()
			if !ok {
				return d.fail("expected a field name")
			}
			d.ws()
			if !d.consume(':') {
				return d.fail("expected :")
			}
			if idx = slices.Index(fieldNames[:], string(key)); idx < 0 {
				return d.fail(fmt.Sprintf("unknown field %q", key))
			}
		}
		d.ws()
		bit := uint32(1) << idx
		if seen&bit != 0 {
			return d.fail(fmt.Sprintf("duplicate field %q", fieldNames[idx]))
		}
		if err := d.field(r, idx); err != nil {
			return err
		}
		seen |= bit
		next = idx + 1
		d.ws()
		if d.consume(',') {
			continue
		}
		if d.consume('}') {
			break
		}
		return d.fail("expected , or }")
	}
	d.ws()
	if d.i != len(d.b) {
		return d.fail("data after the object")
	}
	return d.missing(seen)
}

type recordDecoder struct {
	b       []byte
	i       int
	str     []byte // scratch for unescaped strings
	discard bool   // Session and Error are read but not kept
}

func (d *recordDecoder) fail(msg string) error {
	return fmt.Errorf("%w at byte %d: %s", errSyntax, d.i, msg)
}

func (d *recordDecoder) missing(seen uint32) error {
	if seen&fRequired == fRequired {
		return nil
	}
	for i, name := range fieldNames {
		if seen&(1<<i) == 0 && 1<<i&fRequired != 0 {
			return fmt.Errorf("%w: missing field %q", errSyntax, name)
		}
	}
	return nil
}

func (d *recordDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *recordDecoder) consume(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// rawKey reads a field name without escapes: every known name is plain
// ASCII, so a name with an escape or a control character is rejected.
func (d *recordDecoder) rawKey() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			d.i++
			return d.b[start : d.i-1], true
		}
		if c == '\\' || c < 0x20 {
			return nil, false // no field name has escapes or control characters
		}
		d.i++
	}
	return nil, false
}

func (d *recordDecoder) field(r *Request, idx int) error {
	var err error
	switch 1 << idx {
	case fProbe:
		r.Probe, err = d.int()
	case fPhase:
		err = d.internedString(&r.Phase, PhaseSettle, PhaseWarmup, PhaseWindow)
	case fAgent:
		r.Agent, err = d.int()
	case fSession:
		err = d.text(&r.Session)
	case fSubagent:
		err = d.string(&r.Subagent)
	case fTrajectory:
		err = d.string(&r.Trajectory)
	case fTurn:
		r.Turn, err = d.int()
	case fTSend:
		r.TSendNs, err = d.int64()
	case fTFirst:
		r.TFirstNs, err = d.int64()
	case fTLast:
		r.TLastNs, err = d.int64()
	case fPrompt:
		r.PromptTokens, err = d.int()
	case fCached:
		if d.literal("null") {
			r.CachedTokens = OptionalInt{}
			return nil
		}
		var v int
		v, err = d.int()
		r.CachedTokens = OptionalInt{Value: v, Known: true}
	case fCompletion:
		r.CompletionTokens, err = d.int()
	case fTargetPrompt:
		r.TargetPromptTokens, err = d.int()
	case fTargetCompletion:
		r.TargetCompletionTokens, err = d.int()
	case fChunks:
		r.Chunks, err = d.int()
	case fStatus:
		err = d.internedString(&r.Status, StatusOK, StatusError, StatusTruncated)
	case fError:
		err = d.text(&r.Error)
	case fSource:
		err = d.internedString(&r.TokenCountSource, TokenSourceUsage, TokenSourceClient)
	case fOffsets:
		err = d.offsets(r)
	}
	return err
}

func (d *recordDecoder) literal(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

func (d *recordDecoder) offsets(r *Request) error {
	if d.literal("null") {
		return nil
	}
	if !d.consume('[') {
		return d.fail("expected an array")
	}
	out := []int64{}
	d.ws()
	if d.consume(']') {
		r.ChunkOffsetsNs = out
		return nil
	}
	for {
		d.ws()
		v, err := d.int64()
		if err != nil {
			return err
		}
		out = append(out, v)
		d.ws()
		if d.consume(',') {
			continue
		}
		if d.consume(']') {
			r.ChunkOffsetsNs = out
			return nil
		}
		return d.fail("expected , or ]")
	}
}

func (d *recordDecoder) int() (int, error) {
	v, err := d.int64()
	if err == nil && (v > math.MaxInt || v < math.MinInt) {
		return 0, d.fail("integer out of range")
	}
	return int(v), err
}

// int64 reads a JSON number that is an integer (no fraction, no exponent),
// as encoding/json requires for integer fields.
func (d *recordDecoder) int64() (int64, error) {
	start := d.i
	neg := d.consume('-')
	digits := d.i
	var v uint64
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		n := v*10 + uint64(d.b[d.i]-'0')
		if v > (math.MaxUint64-9)/10 || n > 1<<63 {
			return 0, d.fail("integer out of range")
		}
		v = n
		d.i++
	}
	switch {
	case d.i == digits:
		d.i = start
		return 0, d.fail("expected an integer")
	case d.b[digits] == '0' && d.i-digits > 1:
		return 0, d.fail("leading zero")
	case d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E'):
		return 0, d.fail("expected an integer, not a fraction")
	case neg:
		return -int64(v), nil
	case v > math.MaxInt64:
		return 0, d.fail("integer out of range")
	}
	return int64(v), nil
}

// internedString reads a string and stores one of the known constants
// without allocating when it matches one.
func (d *recordDecoder) internedString(dst *string, known ...string) error {
	s, err := d.stringBytes()
	if err != nil {
		return err
	}
	for _, k := range known {
		if string(s) == k {
			*dst = k
			return nil
		}
	}
	if string(s) != *dst {
		*dst = string(s)
	}
	return nil
}

// text reads Session or Error: into dst, or, when the decoder discards
// them, checked and dropped (dst left empty).
func (d *recordDecoder) text(dst *string) error {
	if !d.discard {
		return d.string(dst)
	}
	_, err := d.stringBytes()
	*dst = ""
	return err
}

// string reads a string into dst, keeping dst's current value (and its
// memory) when equal.
func (d *recordDecoder) string(dst *string) error {
	s, err := d.stringBytes()
	if err != nil {
		return err
	}
	if string(s) != *dst {
		*dst = string(s)
	}
	return nil
}

// stringBytes reads a JSON string and returns its unescaped bytes, valid
// until the next call. Invalid UTF-8 and lone surrogates become U+FFFD, as in
// encoding/json.
func (d *recordDecoder) stringBytes() ([]byte, error) {
	if !d.consume('"') {
		return nil, d.fail("expected a string")
	}
	start := d.i
	plain := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if plain {
				return s, nil
			}
			return d.unescape(s)
		case c == '\\':
			plain = false
			d.i += 2
		case c < 0x20:
			return nil, d.fail("control character in string")
		case c >= utf8.RuneSelf:
			plain = false
			d.i++
		default:
			d.i++
		}
	}
	return nil, d.fail("unterminated string")
}

func (d *recordDecoder) unescape(s []byte) ([]byte, error) {
	out, ok := AppendJSONStringText(d.str[:0], s)
	if !ok {
		return nil, d.fail("bad escape")
	}
	d.str = out
	return out, nil
}
