package bundle

import "strconv"

// decodePowerFast reads one power.jsonl.zst line as the runner writes it
// (encoding/json's compact output: no white space, plain ASCII strings),
// without reflection: about ten times faster than encoding/json on a run
// of a million samples. It reports false for any line it does not read
// exactly as json.Unmarshal into PowerLine would (white space, escapes,
// nested values, a key that differs from a known one only in case, a
// repeated key, a number encoding/json would refuse for its field), and
// the caller then decodes the line with encoding/json, whose errors name
// the problem.
func decodePowerFast(b []byte, s *PowerLine) bool {
	*s = PowerLine{}
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return false
	}
	i := 1
	if b[i] == '}' {
		return i == len(b)-1
	}
	var seen uint32
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
			if ok && field != fieldNone && !stringField(field) {
				return false // a string for a number: encoding/json's error
			}
			if ok && field != fieldNone {
				s.setString(field, b[i+1:end-1])
			}
		default:
			end, ok = jsonNumber(b, i)
			if !ok || stringField(field) {
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

// The fields of a power line; fieldNone is any other key, which
// encoding/json skips.
const (
	fieldNone = iota
	fieldGPU
	fieldTMono
	fieldEnergy
	fieldPower
	fieldTUnix
	fieldSMClock
	fieldTemp
	fieldClockEvents
	fieldSrcTUnix
	fieldReadNs
	fieldPowerSource // the string fields follow
	fieldEnergySource
	fieldErr
	fieldAuxErr
	fieldNote
	fieldCount
)

var powerKeys = [fieldCount]string{
	fieldGPU: "gpu", fieldTMono: "t_mono_ns", fieldEnergy: "energy_mj", fieldPower: "power_w",
	fieldTUnix: "t_unix_ns", fieldSMClock: "sm_clock_mhz", fieldTemp: "temp_c", fieldClockEvents: "clock_events",
	fieldSrcTUnix: "src_t_unix_ns", fieldReadNs: "read_ns",
	fieldPowerSource: "power_source", fieldEnergySource: "energy_source",
	fieldErr: "err", fieldAuxErr: "aux_err", fieldNote: "note",
}

func stringField(f int) bool { return f >= fieldPowerSource }

// setString stores a plain string in field; the source names, written on
// every line, are interned.
func (s *PowerLine) setString(field int, b []byte) {
	switch field {
	case fieldPowerSource:
		s.PowerSource = intern(b)
	case fieldEnergySource:
		s.EnergySource = intern(b)
	case fieldErr:
		s.Err = string(b)
	case fieldAuxErr:
		s.AuxErr = string(b)
	case fieldNote:
		s.Note = string(b)
	}
}

// intern returns the runner's source names without allocating (a million
// samples name one or two sources).
func intern(b []byte) string {
	switch string(b) {
	case PowerSourceSim:
		return PowerSourceSim
	case PowerSourceInstant:
		return PowerSourceInstant
	case PowerSourceUsage:
		return PowerSourceUsage
	case EnergySourceField:
		return EnergySourceField
	case EnergySourceCall:
		return EnergySourceCall
	}
	return string(b)
}

// powerField is the field a key names exactly, fieldNone for another key,
// and -1 for a key equal to a field's name in another case (encoding/json
// matches keys case-insensitively; the slow path settles it).
func powerField(key []byte) int {
	for f := fieldGPU; f < fieldCount; f++ {
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
func (s *PowerLine) setNumber(field int, num []byte) bool {
	var err error
	switch field {
	case fieldGPU:
		var v int64
		v, err = strconv.ParseInt(string(num), 10, strconv.IntSize)
		s.GPU = int(v)
	case fieldTMono:
		s.TMonoNs, err = strconv.ParseInt(string(num), 10, 64)
	case fieldEnergy:
		s.EnergyMJ, err = strconv.ParseFloat(string(num), 64)
	case fieldPower:
		s.PowerW, err = strconv.ParseFloat(string(num), 64)
	case fieldTUnix:
		s.TUnixNs, err = strconv.ParseInt(string(num), 10, 64)
	case fieldSMClock:
		var v uint64
		v, err = strconv.ParseUint(string(num), 10, 32)
		s.SMClockMHz = uint32(v)
	case fieldTemp:
		var v uint64
		v, err = strconv.ParseUint(string(num), 10, 32)
		s.TempC = uint32(v)
	case fieldClockEvents:
		s.ClockEvents, err = strconv.ParseUint(string(num), 10, 64)
	case fieldSrcTUnix:
		s.SrcTUnixNs, err = strconv.ParseInt(string(num), 10, 64)
	case fieldReadNs:
		s.ReadNs, err = strconv.ParseInt(string(num), 10, 64)
	}
	return err == nil // another field's number: skipped
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
