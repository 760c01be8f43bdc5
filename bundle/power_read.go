package bundle

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// maxPowerLine bounds one power.jsonl line.
const maxPowerLine = 64 << 10

// ReadPowerLines reads a power.jsonl.zst stream the runner wrote itself
// (the verifier reads a bundle's through DecodePowerReading, within its
// limits); name (the file's) prefixes errors as NAME:LINE:COL.
func ReadPowerLines(name string, r io.Reader) ([]PowerLine, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer zr.Close()
	return ParsePowerLines(name, zr)
}

// ParsePowerLines reads uncompressed power JSON lines. Blank lines are
// skipped; a line that is not a sample is an ErrBadPowerLine error with
// its position.
func ParsePowerLines(name string, r io.Reader) ([]PowerLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxPowerLine)
	var out []PowerLine
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		s, col, err := parsePowerLine(b)
		if err != nil {
			return nil, fmt.Errorf("%s:%d:%d: %w: %v", name, line, col, ErrBadPowerLine, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: %w: line longer than %d bytes", name, line+1, ErrBadPowerLine, maxPowerLine)
		}
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return out, nil
}

// parsePowerLine decodes and checks one line; col is the 1-based column of a
// syntax error (1 otherwise).
func parsePowerLine(b []byte) (PowerLine, int, error) {
	var s PowerLine
	if b[0] != '{' {
		return s, 1, errors.New("not a JSON object")
	}
	if err := json.Unmarshal(b, &s); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return s, int(se.Offset), err
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field[strings.LastIndexByte(te.Field, '.')+1:] // JSON name, not the Go path
			return s, int(te.Offset), fmt.Errorf("field %s: want %s", field, te.Type)
		}
		return s, 1, err
	}
	switch {
	case s.GPU < 0:
		return s, 1, fmt.Errorf("gpu %d: must not be negative", s.GPU)
	case !s.Valid():
		return s, 1, nil
	case math.IsNaN(s.EnergyMJ) || math.IsInf(s.EnergyMJ, 0) || s.EnergyMJ < 0:
		return s, 1, fmt.Errorf("energy_mj %v: want a finite, non-negative number", s.EnergyMJ)
	case math.IsNaN(s.PowerW) || math.IsInf(s.PowerW, 0) || s.PowerW < 0:
		return s, 1, fmt.Errorf("power_w %v: want a finite, non-negative number", s.PowerW)
	}
	return s, 1, nil
}
