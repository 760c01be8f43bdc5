package engine

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ParseCPUList reads a Linux CPU list ("2-15", "0,2,4-7") into a CPU set.
func ParseCPUList(s string) (unix.CPUSet, error) {
	var set unix.CPUSet
	set.Zero()
	if strings.TrimSpace(s) == "" {
		return set, fmt.Errorf("cpu list is empty")
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return set, fmt.Errorf("cpu list %q: %q is not a CPU number", s, lo)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return set, fmt.Errorf("cpu list %q: bad range %q", s, part)
			}
		}
		if b >= 1024 {
			return set, fmt.Errorf("cpu list %q: CPU %d above 1023", s, b)
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	return set, nil
}

// FormatCPUSet writes a CPU set as a Linux CPU list, e.g. "0-3,8".
func FormatCPUSet(set unix.CPUSet) string {
	var parts []string
	for c := 0; c < 1024; c++ {
		if !set.IsSet(c) {
			continue
		}
		end := c
		for end+1 < 1024 && set.IsSet(end+1) {
			end++
		}
		if end == c {
			parts = append(parts, strconv.Itoa(c))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", c, end))
		}
		c = end
	}
	return strings.Join(parts, ",")
}
