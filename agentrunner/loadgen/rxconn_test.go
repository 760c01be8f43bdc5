//go:build linux && (amd64 || arm64)

package loadgen

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestKernelReceiveTimestamps: an event that the client reads late still
// carries the time its bytes arrived, taken by the kernel.
func TestKernelReceiveTimestamps(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	clock := NewClock(time.Now())
	wrote := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("data: {\"x\":1}\n\n"))
		wrote <- clock.Now()
		time.Sleep(time.Second) // keep it open while the client reads late
	}()

	const late = 300 * time.Millisecond
	for _, kernel := range []bool{true, false} {
		d := net.Dialer{}
		raw, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn := raw
		if kernel {
			conn = withRxTimestamps(raw, clock)
		}
		rc, ok := conn.(*rxConn)
		if kernel != ok {
			t.Fatalf("kernel %v: got an rxConn %v", kernel, ok)
		}
		if !kernel {
			go func() { // a second server connection for the user-time run
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				_, _ = c.Write([]byte("data: {\"x\":1}\n\n"))
				wrote <- clock.Now()
				time.Sleep(time.Second)
			}()
		}
		sent := <-wrote
		time.Sleep(late) // the client is busy elsewhere
		dec := NewSSEDecoder(conn, clock, 0, 0)
		if kernel {
			dec.stampFromKernel(rc, 0)
		}
		ev, err := dec.Next()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		lag := time.Duration(ev.TimeNs - sent)
		switch {
		case kernel && (lag < -time.Millisecond || lag > late/3):
			t.Errorf("kernel timestamps: the event is stamped %v after the write, want well under %v", lag, late)
		case !kernel && lag < late:
			t.Errorf("user timestamps: the event is stamped %v after the write, want at least the %v the client was late", lag, late)
		}
	}
}
