package bundle

import "strconv"

// decodePowerFast reads one power.jsonl.zst line as the runner writes it
// (encoding/json's compact output: no white space, plain ASCII strings),
// without reflection: about ten times faster than encoding/json on a run
// of a million samples. It reports false for any line it does not read
// exactly as json.Unmarshal into PowerReading would (white space, escapes,
// nested values, a key that differs from a known one only in case, a
// repeated key, a number encoding/json would refuse for its field), and
// the caller then decodes the line with encoding/json, whose errors name
// the problem.
func decodePowerFast(b []byte, s *PowerReading) bool {
	*s = PowerReading{}
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return false
	}
	i := 1
	if b[i] == '}' {
		return i == len(b)-1
	}
	var seen uint8
	for {
		// Key: plain ASCII, no escapes.
		if b[i] != '"' {
			return false
		}
		k := i + 1
		for i = k; i < len(b) && b[i] != '"'; i++ {
			if c := b[i]; c < 0x20 || c == '\\' || c >= 0x7f {
				return false
			}
		}
		if i+1 >= len(b) || b[i+1] != ':' {
			return false
		}
		key := b[k:i]
		i += 2
		field := powerField(key)
		if field < 0 {
			return false // differs from a known field only in case: encoding/json would take it
		}
		if field > 0 {
			if seen&(1<<field) != 0 {
				return false
			}
			seen |= 1 << field
		}
		// Value.
		var end int
		var ok bool
		switch {
		case i < len(b) && b[i] == '"':
			end, ok = plainString(b, i)
			if ok && field != fieldNone && field != fieldErr && field != fieldSource {
				return false // a string for a number: encoding/json's error
			}
			if ok && field == fieldErr {
				s.Err = string(b[i+1 : end-1])
			}
			if ok && field == fieldSource {
				s.PowerSource = internSource(b[i+1 : end-1])
			}
		default:
			end, ok = jsonNumber(b, i)
			if !ok || field == fieldErr || field == fieldSource {
				return false
			}
			ok = s.setNumber(field, b[i:end])
		}
		if !ok {
			return false
		}
		i = end
		switch {
		case i < len(b)-1 && b[i] == ',':
			i++
		case i == len(b)-1:
			return true // b[i] is the closing brace
		default:
			return false
		}
	}
}

// The fields of a PowerReading; fieldNone is any other
// key, which encoding/json skips.
const (
	fieldNone = iota
	fieldGPU
	fieldTMono
	fieldEnergy
	fieldPower
	fieldErr
	fieldSource
)

var powerKeys = [...]string{fieldGPU: "gpu", fieldTMono: "t_mono_ns", fieldEnergy: "energy_mj", fieldPower: "power_w", fieldErr: "err", fieldSource: "power_source"}

// internSource returns the runner's power source names without allocating
// (a million samples name one or two sources).
func internSource(b []byte) string {
	switch string(b) {
	case PowerSourceSim:
		return PowerSourceSim
	case PowerSourceInstant:
		return PowerSourceInstant
	case PowerSourceUsage:
		return PowerSourceUsage
	}
	return string(b)
}

// powerField is the field a key names exactly, fieldNone for another key,
// and -1 for a key equal to a field's name in another case (encoding/json
// matches keys case-insensitively; the slow path settles it).
func powerField(key []byte) int {
	for f := fieldGPU; f <= fieldSource; f++ {
		name := powerKeys[f]
		if string(key) == name {
			return f
		}
		if len(key) == len(name) && equalFoldASCII(key, name) {
			return -1
		}
	}
	return fieldNone
}

func equalFoldASCII(a []byte, b string) bool {
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// setNumber stores a JSON number in field, as encoding/json would; false
// where encoding/json would refuse it (a fraction for an integer, out of
// range).
func (s *PowerReading) setNumber(field int, num []byte) bool {
	switch field {
	case fieldGPU:
		v, err := strconv.ParseInt(string(num), 10, strconv.IntSize)
		s.GPU = int(v)
		return err == nil
	case fieldTMono:
		v, err := strconv.ParseInt(string(num), 10, 64)
		s.TMonoNs = v
		return err == nil
	case fieldEnergy:
		v, err := strconv.ParseFloat(string(num), 64)
		s.EnergyMJ = v
		return err == nil
	case fieldPower:
		v, err := strconv.ParseFloat(string(num), 64)
		s.PowerW = v
		return err == nil
	}
	return true // another field's number: skipped
}

// plainString returns the end (past the closing quote) of the string at
// b[i], which must hold printable ASCII only, without escapes.
func plainString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c < 0x20 || c == '\\' || c >= 0x7f:
			return 0, false
		}
	}
	return 0, false
}

// jsonNumber returns the end of the JSON number at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumber(b []byte, i int) (int, bool) {
	digits := func(j int) int {
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}
