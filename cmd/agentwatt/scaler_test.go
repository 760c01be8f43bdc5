package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScalerCmdRefusesBadConfig: a bad config file is refused before any
// connection, at its line and column.
func TestScalerCmdRefusesBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scaler.yaml")
	if err := os.WriteFile(path, []byte("pools:\n  - name: sim\n    max: 1\n    backend: gcp\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := runApp(t, "text", func(a *app) func() error {
		return execCmd(a, newScalerCmd, "--config", path, "--nats", "nats://127.0.0.1:1")
	})
	if err == nil || !strings.Contains(err.Error(), path+":4:14: pools[0].backend") {
		t.Fatalf("err %v, want the file's line and column", err)
	}
	if _, err := runApp(t, "text", func(a *app) func() error { return execCmd(a, newScalerCmd) }); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Fatalf("without --config: %v", err)
	}
}

// TestScalerCmdObservesPool: `agentwatt scaler` against a real NATS, with a
// pool that has no group, reports the pool's waiting jobs on its metrics.
func TestScalerCmdObservesPool(t *testing.T) {
	f := newQueueFixture(t)
	f.enqueue(t, 1)
	f.enqueue(t, 2)
	path := filepath.Join(t.TempDir(), "scaler.yaml")
	if err := os.WriteFile(path, []byte("interval: 1s\npools:\n  - name: sim\n    max: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	raw, _ := json.Marshal([]string{"scaler", "--config", path, "--nats", f.url, "--metrics-addr", addr, "--log-level", "error"})
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	want := []string{`agentwatt_scaler_waiting{pool="sim"} 2`, `agentwatt_scaler_desired{pool="sim"} 2`}
	var body string
	for {
		if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(body, w)
			}
			if ok {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("metrics never showed %v:\n%s", want, body)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
