package retest

import (
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/queue"
)

func TestConfigValidate(t *testing.T) {
	good := Config{Frameworks: []Framework{{Name: "vllm", Repo: "vllm-project/vllm"}}, Queue: &queue.Queue{}, Store: &blob.Store{}}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no frameworks", func(c *Config) { c.Frameworks = nil }, "no frameworks"},
		{"no queue", func(c *Config) { c.Queue = nil }, "a queue is required"},
		{"no store", func(c *Config) { c.Store = nil }, "store is required"},
		{"poll too short", func(c *Config) { c.Poll = time.Second }, "at least 10s"},
		{"every negative", func(c *Config) { c.Every = -time.Hour }, "every"},
		{"api url", func(c *Config) { c.APIURL = "ftp://x" }, "GitHub API URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}
