package verifyd

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/workload"
)

// fakeQueue and fakeStore only satisfy the interfaces: New does no I/O.
type fakeQueue struct{ Queue }
type fakeStore struct{ Store }
type fakeKeys struct{ KeySource }

func TestConfigValidate(t *testing.T) {
	wl := func(context.Context, string, string) (*workload.Workload, error) { return nil, nil }
	good := Config{Queue: fakeQueue{}, Keys: fakeKeys{}, Store: fakeStore{}, Workloads: wl}
	tests := []struct {
		name string
		edit func(c *Config)
		want string // the field the error names; "" valid
	}{
		{"complete", func(*Config) {}, ""},
		{"no queue", func(c *Config) { c.Queue = nil }, "Queue"},
		{"no keys", func(c *Config) { c.Keys = nil }, "Keys"},
		{"no store", func(c *Config) { c.Store = nil }, "Store"},
		{"no workloads", func(c *Config) { c.Workloads = nil }, "Workloads"},
		{"negative wait", func(c *Config) { c.Wait = -time.Second }, "Wait"},
		{"negative retry delay", func(c *Config) { c.RetryDelay = -time.Second }, "RetryDelay"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			before := c
			err := c.Validate()
			if c.Wait != before.Wait || c.RetryDelay != before.RetryDelay || c.References != nil {
				t.Errorf("Validate changed the config: %+v", c)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tc.want != "" && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want ErrInvalidConfig naming %s", err, tc.want)
			}
			d, err := New(c)
			if (err == nil) != (tc.want == "") {
				t.Fatalf("New: got %v, want the same answer as Validate", err)
			}
			if d == nil {
				return
			}
			if d.cfg.Wait != 5*time.Second || d.cfg.RetryDelay != 30*time.Second || len(d.cfg.References) != 1319 {
				t.Errorf("defaults: wait %s, retry %s, %d references; want 5s, 30s, the 1319 GSM8K answers", d.cfg.Wait, d.cfg.RetryDelay, len(d.cfg.References))
			}
		})
	}
}
