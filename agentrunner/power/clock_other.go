//go:build !linux

package power

// hostMonotonic is not comparable across processes on this platform.
func hostMonotonic() (int64, bool) { return 0, false }
