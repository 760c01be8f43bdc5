package blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/blob/blobtest"
)

// flakyProxy forwards to the gateway, except that the requests whose
// numbers (counted from arm) are in the plan get the planned fault.
type flakyProxy struct {
	srv  *httptest.Server
	mu   sync.Mutex
	n    int
	plan map[int]int // request number → status (0 = reset the connection)
	all  int         // when non-zero, every request gets this status
	seen atomic.Int64
}

func newFlakyProxy(t *testing.T, endpoint string) *flakyProxy {
	t.Helper()
	target, _ := url.Parse("http://" + endpoint)
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &flakyProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.seen.Add(1)
		p.mu.Lock()
		p.n++
		status, planned := p.plan[p.n]
		if p.all != 0 {
			status, planned = p.all, true
		}
		p.mu.Unlock()
		if !planned {
			rp.ServeHTTP(w, r) // Host stays the proxy's, as the client signed it
			return
		}
		io.Copy(io.Discard, r.Body)
		if status == 0 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+http.StatusText(status)+`</Code><Message>injected</Message></Error>`)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// arm restarts the request count and sets the faults.
func (p *flakyProxy) arm(plan map[int]int, all int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n, p.plan, p.all = 0, plan, all
}

func (p *flakyProxy) endpoint() string { return strings.TrimPrefix(p.srv.URL, "http://") }

type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepRecorder) reset() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.waits
	s.waits = nil
	return w
}

func TestRetryThroughFlakyProxy(t *testing.T) {
	cfg := blobtest.Start(t)
	proxy := newFlakyProxy(t, cfg.Endpoint)
	pcfg := cfg
	pcfg.Endpoint = proxy.endpoint()
	policy := blob.Retry{Attempts: 4, Base: 100 * time.Millisecond, Max: 300 * time.Millisecond}
	rec := &sleepRecorder{}
	ctx := context.Background()
	st, err := blob.Open(ctx, pcfg, blob.WithRetry(policy), blob.WithSleep(rec.sleep))
	if err != nil {
		t.Fatal(err)
	}
	direct, err := blob.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	small := payload(4096, 1)
	large := payload(20*MiB, 2)
	if err := direct.PutBytes(ctx, "seed", small, ""); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		plan      map[int]int
		all       int
		op        func() error
		wantErr   bool
		wantSleep int
	}{
		{name: "put small after two 503s", plan: map[int]int{1: 503, 2: 503},
			op: func() error { return st.PutBytes(ctx, "small", small, "") }, wantSleep: 2},
		{name: "put small after a reset", plan: map[int]int{1: 0},
			op: func() error { return st.PutBytes(ctx, "small-reset", small, "") }, wantSleep: 1},
		{name: "put small after 500 then 429", plan: map[int]int{1: 500, 2: 429},
			op: func() error { return st.PutBytes(ctx, "small-500", small, "") }, wantSleep: 2},
		// Requests 1 (create upload) and 2 (a part) pass; 3 (another part)
		// fails, so the multipart upload starts over from the seekable body.
		{name: "multipart restarts after a failed part", plan: map[int]int{3: 503},
			op: func() error { return st.PutBytes(ctx, "large", large, "") }, wantSleep: 1},
		{name: "get after 503", plan: map[int]int{1: 503},
			op: func() error {
				b, err := st.GetBytes(ctx, "seed", -1)
				if err == nil && !bytes.Equal(b, small) {
					return errors.New("GetBytes returned other bytes")
				}
				return err
			}, wantSleep: 1},
		{name: "stat after 502", plan: map[int]int{1: 502},
			op: func() error { _, err := st.Stat(ctx, "seed"); return err }, wantSleep: 1},
		{name: "list after 504", plan: map[int]int{1: 504},
			op: func() error { _, err := st.List(ctx, ""); return err }, wantSleep: 1},
		{name: "delete after reset", plan: map[int]int{1: 0},
			op: func() error { return st.Delete(ctx, "nothing-here") }, wantSleep: 1},
		{name: "gives up after the policy's attempts", all: 503,
			op: func() error { return st.PutBytes(ctx, "never", small, "") }, wantErr: true, wantSleep: policy.Attempts - 1},
		{name: "403 is not retried", plan: map[int]int{1: 403},
			op: func() error { return st.PutBytes(ctx, "denied", small, "") }, wantErr: true, wantSleep: 0},
		{name: "large plain stream gets one try", plan: map[int]int{2: 503},
			op:      func() error { return st.Put(ctx, "stream", onlyReader{bytes.NewReader(large)}, int64(len(large)), "") },
			wantErr: true, wantSleep: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.reset()
			proxy.arm(tt.plan, tt.all)
			err := tt.op()
			proxy.arm(nil, 0)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			waits := rec.reset()
			if len(waits) != tt.wantSleep {
				t.Fatalf("slept %d times (%v), want %d", len(waits), waits, tt.wantSleep)
			}
			for i, d := range waits {
				ceil := min(policy.Base<<i, policy.Max)
				if d < ceil/2 || d > ceil {
					t.Errorf("wait %d = %v, want in [%v, %v]", i+1, d, ceil/2, ceil)
				}
			}
		})
	}

	// What the retries wrote arrived intact (read past the proxy).
	for key, want := range map[string][]byte{"small": small, "small-reset": small, "small-500": small, "large": large} {
		got, err := direct.GetBytes(ctx, key, -1)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: got %d bytes, err %v; want %d bytes", key, len(got), err, len(want))
		}
	}
	if _, err := direct.Stat(ctx, "stream"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("failed stream upload left an object: Stat = %v", err)
	}
}

func TestRetryGivesUpWithServerError(t *testing.T) {
	cfg := blobtest.Start(t)
	proxy := newFlakyProxy(t, cfg.Endpoint)
	cfg.Endpoint = proxy.endpoint()
	rec := &sleepRecorder{}
	st, err := blob.Open(context.Background(), cfg, blob.WithSleep(rec.sleep))
	if err != nil {
		t.Fatal(err)
	}
	proxy.arm(nil, 503)
	err = st.PutBytes(context.Background(), "k", []byte("x"), "")
	var er minio.ErrorResponse
	if !errors.As(err, &er) || er.StatusCode != 503 {
		t.Fatalf("err = %v, want the server's 503 kept in the chain", err)
	}
	if got, want := len(rec.reset()), blob.DefaultRetry.Attempts-1; got != want {
		t.Errorf("default policy slept %d times, want %d", got, want)
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	cfg := blobtest.Start(t)
	proxy := newFlakyProxy(t, cfg.Endpoint)
	cfg.Endpoint = proxy.endpoint()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sleeps atomic.Int32
	st, err := blob.Open(ctx, cfg, blob.WithSleep(func(ctx context.Context, d time.Duration) error {
		sleeps.Add(1)
		cancel() // the caller gives up while we wait
		<-ctx.Done()
		return ctx.Err()
	}))
	if err != nil {
		t.Fatal(err)
	}
	proxy.arm(nil, 503)
	before := proxy.seen.Load()
	if err := st.PutBytes(ctx, "k", []byte("x"), ""); err == nil {
		t.Fatal("Put succeeded through a proxy that always fails")
	}
	if got := proxy.seen.Load() - before; got != 1 || sleeps.Load() != 1 {
		t.Errorf("after cancel: %d requests and %d sleeps, want 1 and 1", got, sleeps.Load())
	}
}
