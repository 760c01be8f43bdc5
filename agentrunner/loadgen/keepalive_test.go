package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

// dialCountingServer is an event-stream server that counts the TCP
// connections it accepts.
func dialCountingServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var dials atomic.Int64
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &dials
}

func okStream(w http.ResponseWriter, _ *http.Request) {
	eventStream(w)
	fmt.Fprint(w, ev(content("a"))+ev(usage(1, 1, ""))+doneEvent)
}

// TestIdleConnOutlivesThinkTime: after a think of 4.2 s (longer than the
// old 4 s idle timeout) within a 5 s think-time cap, the next request
// reuses the agent's connection; a client with the old 4 s timeout dials
// again inside the request's TTFT.
func TestIdleConnOutlivesThinkTime(t *testing.T) {
	const think = 4200 * time.Millisecond
	clients := []struct {
		name      string
		cfg       func(*ClientConfig)
		wantDials int64
	}{
		{"idle timeout from the think-time cap", func(c *ClientConfig) { c.MaxThinkTime = 5 * time.Second }, 1},
		{"the old 4 s idle timeout", func(c *ClientConfig) { c.MaxThinkTime = 5 * time.Second; c.IdleConnTimeout = 4 * time.Second }, 2},
	}
	var wg sync.WaitGroup
	for _, tc := range clients {
		srv, dials := dialCountingServer(t, okStream)
		c := newTestClient(t, srv.URL, tc.cfg)
		wg.Go(func() {
			var rec metrics.Request
			if _, err := c.Stream(context.Background(), chatRequest(1), &rec); err != nil || rec.Status != metrics.StatusOK {
				t.Errorf("%s: first request: %v %s", tc.name, err, rec.Error)
				return
			}
			time.Sleep(think)
			info, err := c.Stream(context.Background(), chatRequest(1), &rec)
			if err != nil || rec.Status != metrics.StatusOK {
				t.Errorf("%s: second request: %v %s", tc.name, err, rec.Error)
				return
			}
			if got := dials.Load(); got != tc.wantDials || info.ReusedConn != (tc.wantDials == 1) {
				t.Errorf("%s: %d connections (reused %v) after a %v think, want %d", tc.name, got, info.ReusedConn, think, tc.wantDials)
			}
		})
	}
	wg.Wait()
}

func TestClientIdleTimeoutDefault(t *testing.T) {
	c := newTestClient(t, "http://127.0.0.1:1", func(c *ClientConfig) { c.MaxThinkTime = 30 * time.Second })
	if got, want := c.http.Transport.(*http.Transport).IdleConnTimeout, 30*time.Second+IdleMargin; got != want {
		t.Errorf("idle timeout %v, want %v", got, want)
	}
	if _, err := NewClient(context.Background(), ClientConfig{Endpoint: "http://x", Model: "m", Clock: NewClock(time.Now()), MaxThinkTime: -1}); err == nil {
		t.Error("a negative think time was accepted")
	}
}

// TestStaleKeepAliveIsRetried: a server that closes a kept-alive
// connection as the next request arrives (its own keep-alive ran out) does
// not fail the request: it is resent on a new connection, and the wait for
// that connection is reported as connection wait.
func TestStaleKeepAliveIsRetried(t *testing.T) {
	var mu sync.Mutex
	served := map[string]int{}
	srv, dials := dialCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served[r.RemoteAddr]++
		n := served[r.RemoteAddr]
		mu.Unlock()
		if n == 2 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		okStream(w, r)
	})
	var observed []time.Duration
	c := newTestClient(t, srv.URL, func(c *ClientConfig) {
		c.Observer = observerFunc(func(wait, _ time.Duration) { observed = append(observed, wait) })
	})
	for i := range 2 {
		var rec metrics.Request
		info, err := c.Stream(context.Background(), chatRequest(1), &rec)
		if err != nil || rec.Status != metrics.StatusOK {
			t.Fatalf("request %d: %v %s %s", i, err, rec.Status, rec.Error)
		}
		if i == 1 && info.ReusedConn {
			t.Error("the retried request claims a reused connection")
		}
	}
	if got := dials.Load(); got != 2 {
		t.Errorf("%d connections, want 2 (the closed one and its replacement)", got)
	}
	if len(observed) != 2 || observed[1] <= 0 {
		t.Errorf("connection waits %v: want two, the second positive", observed)
	}
}

type observerFunc func(connWait, serverTTFB time.Duration)

func (f observerFunc) ObserveRequest(connWait, serverTTFB time.Duration, _ bool) {
	f(connWait, serverTTFB)
}
