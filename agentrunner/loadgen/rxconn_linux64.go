//go:build linux && (amd64 || arm64)

package loadgen

import (
	"encoding/binary"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rxConn (Linux, 64-bit: the control-message layout parsed below) is a TCP
// connection that reads with recvmsg and keeps the kernel's
// receive time of the latest bytes read (SO_TIMESTAMPNS: when the packet
// reached this machine's network stack). Events are stamped with it, so a
// busy client that gets to a socket late still records when the bytes
// arrived, not when it read them.
type rxConn struct {
	*net.TCPConn
	raw   syscall.RawConn
	clock Clock
	// lastRx is the run-clock time of the latest read's bytes; 0 unknown.
	lastRx atomic.Int64

	// recvmsg's arguments and results, kept here so that neither the read
	// callback nor the message header is allocated per Read.
	p          []byte
	msg        unix.Msghdr
	iov        unix.Iovec
	oob        [64]byte
	n, oobn    int
	rerr       error
	readOnceFn func(fd uintptr) bool
}

// withRxTimestamps returns c reading kernel receive times, or c unchanged
// when it is not TCP or the kernel refuses the option.
func withRxTimestamps(c net.Conn, clock Clock) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return c
	}
	rc := &rxConn{TCPConn: tc, raw: raw, clock: clock}
	rc.readOnceFn = rc.readOnce
	return rc
}

// readOnce is one recvmsg(2) on fd into c.p, its control data into c.oob.
// It reports false (wait for the socket) only on EAGAIN. unix.Recvmsg would
// allocate a source address per call; a connected TCP socket has none.
func (c *rxConn) readOnce(fd uintptr) bool {
	c.iov.Base = &c.p[0]
	c.iov.SetLen(len(c.p))
	c.msg = unix.Msghdr{Iov: &c.iov, Control: &c.oob[0]}
	c.msg.SetIovlen(1)
	c.msg.SetControllen(len(c.oob))
	for {
		r, _, errno := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&c.msg)), 0)
		switch errno {
		case 0:
			c.n, c.oobn, c.rerr = int(r), int(c.msg.Controllen), nil
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			c.n, c.oobn, c.rerr = 0, 0, errno
			return true
		}
	}
}

// Read reads like the TCP connection does and records the receive time of
// what it read.
func (c *rxConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.p = p
	err := c.raw.Read(c.readOnceFn)
	c.p, c.iov.Base = nil, nil
	if err == nil {
		err = c.rerr
	}
	n := max(c.n, 0)
	if err != nil {
		return n, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	if n == 0 {
		return 0, io.EOF
	}
	c.lastRx.Store(c.rxRunNs())
	return n, nil
}

// rxRunNs converts the kernel's receive time (CLOCK_REALTIME) of the last
// read to the run clock (monotonic): now on the run clock minus the
// packet's age on the wall clock, both read at once. 0 when the read
// carried no timestamp.
func (c *rxConn) rxRunNs() int64 {
	oob := c.oob[:c.oobn]
	for len(oob) >= unix.SizeofCmsghdr {
		l := int(binary.NativeEndian.Uint64(oob[0:8]))
		level := int32(binary.NativeEndian.Uint32(oob[8:12]))
		typ := int32(binary.NativeEndian.Uint32(oob[12:16]))
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return 0
		}
		if level == unix.SOL_SOCKET && typ == unix.SO_TIMESTAMPNS && l >= unix.SizeofCmsghdr+16 {
			d := oob[unix.SizeofCmsghdr:]
			rx := int64(binary.NativeEndian.Uint64(d[0:8]))*1e9 + int64(binary.NativeEndian.Uint64(d[8:16]))
			now := time.Now()
			run := int64(now.Sub(c.clock.Start()))
			age := now.UnixNano() - rx
			if age < 0 {
				age = 0 // a wall-clock step; the read time is the bound
			}
			return run - age
		}
		oob = oob[min(cmsgAlign(l), len(oob)):]
	}
	return 0
}

func cmsgAlign(l int) int { return (l + 7) &^ 7 }

// lastRxNs is the run-clock receive time of the latest bytes read; 0 when
// unknown.
func (c *rxConn) lastRxNs() int64 { return c.lastRx.Load() }
