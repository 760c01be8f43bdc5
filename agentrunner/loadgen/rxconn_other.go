//go:build !linux || !(amd64 || arm64)

package loadgen

import "net"

// withRxTimestamps returns c unchanged: kernel receive times are read on
// 64-bit Linux only; elsewhere events are stamped when the client reads
// them.
func withRxTimestamps(c net.Conn, _ Clock) net.Conn { return c }

// rxConn never exists here.
type rxConn struct{ net.Conn }

func (*rxConn) lastRxNs() int64 { return 0 }
