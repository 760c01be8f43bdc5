package main

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/bots"
)

// blocker runs until its context ends and records that it stopped.
type blocker struct{ stopped chan struct{} }

func (b *blocker) Run(ctx context.Context) error {
	<-ctx.Done()
	close(b.stopped)
	return nil
}

func TestRunGroup(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		// start adds a second member beside a blocker and returns what ends
		// the group.
		start func(g *runGroup, cancel context.CancelFunc, ctx context.Context)
		want  error
	}{
		{"ctx ends: nil", func(g *runGroup, cancel context.CancelFunc, ctx context.Context) {
			g.untilDone(ctx, nil)
			cancel()
		}, nil},
		{"a service fails: its error", func(g *runGroup, _ context.CancelFunc, ctx context.Context) {
			g.untilDone(ctx, nil)
			g.add(ctx, serviceFunc(func(context.Context) error { return boom }))
		}, boom},
		{"a service returns nil: the others stop", func(g *runGroup, _ context.CancelFunc, ctx context.Context) {
			g.untilDone(ctx, nil)
			g.add(ctx, serviceFunc(func(context.Context) error { return nil }))
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g := runGroup{log: zerolog.Nop()}
			b := &blocker{stopped: make(chan struct{})}
			g.add(ctx, b)
			tt.start(&g, cancel, ctx)
			done := make(chan error, 1)
			go func() { done <- g.Run() }()
			select {
			case got := <-done:
				if !errors.Is(got, tt.want) && got != tt.want {
					t.Errorf("Run() = %v, want %v", got, tt.want)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the group did not stop")
			}
			select {
			case <-b.stopped:
			default:
				t.Error("Run returned before every service stopped")
			}
		})
	}
}

// A service's context is interrupted by the group, not by the command's
// context directly: the group decides the order of shutdown.
func TestRunGroupServiceOutlivesCommandContextUntilInterrupted(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	var g runGroup
	seen := make(chan error, 1)
	g.add(parent, serviceFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	}))
	release := make(chan struct{})
	g.Add(func() error { <-release; return nil }, func(error) {})
	g.add(parent, serviceFunc(func(ctx context.Context) error {
		cancelParent()
		select {
		case <-ctx.Done():
			seen <- errors.New("the service's context ended with the command's")
		case <-time.After(100 * time.Millisecond):
			seen <- nil
		}
		close(release)
		return nil
	}))
	if err := g.Run(); err != nil {
		t.Fatal(err)
	}
	if err := <-seen; err != nil {
		t.Error(err)
	}
}

func TestHTTPServiceServesThenShutsDown(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h, err := newHTTPService("127.0.0.1:0", mux, bots.ServerConfig{}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	resp, err := http.Get(h.URL() + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("GET /ok: %d, want 204", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after ctx ended: %v, want nil", err)
	}
	if _, err := newHTTPService("127.0.0.1:-1", mux, bots.ServerConfig{}, time.Second); err == nil {
		t.Error("a bad address: no error")
	}
}
