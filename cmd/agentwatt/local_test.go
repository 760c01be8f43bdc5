package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/queue"
)

// startLocalChild runs `agentwatt local --dir dir` in a child process on free
// loopback ports and waits until it has written DIR/local.json.
func startLocalChild(t *testing.T, dir string) (*localChild, localInfo) {
	t.Helper()
	args, _ := json.Marshal([]string{"local", "--dir", dir, "--nats-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0", "--log-level", "warn", "--runner=false"})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(args))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.After(90 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "local.json")); err == nil {
			var info localInfo
			if err := json.Unmarshal(b, &info); err != nil {
				t.Fatalf("local.json: %v", err)
			}
			if info.PID == cmd.Process.Pid {
				return &localChild{cmd: cmd, exited: exited}, info
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("agentwatt local exited early (%v):\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("agentwatt local not ready after 90 s:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// localChild is a running `agentwatt local` child; exited yields its Wait
// result (and is refilled, so that the cleanup can read it again).
type localChild struct {
	cmd    *exec.Cmd
	exited chan error
}

// stop interrupts the child as Ctrl-C would and waits for a clean exit.
func (c *localChild) stop(t *testing.T) {
	t.Helper()
	exited := c.exited
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("agentwatt local did not exit cleanly on SIGINT: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("agentwatt local did not stop within 60 s of SIGINT")
	}
}

func readEnvFile(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		env[k] = v
	}
	return env
}

func openLocalStore(t *testing.T, ctx context.Context, env map[string]string) *blob.Store {
	t.Helper()
	st, err := blob.Open(ctx, blob.Config{
		Endpoint: env["AGENTWATT_S3_ENDPOINT"], Bucket: env["AGENTWATT_S3_BUCKET"],
		AccessKey: env["AGENTWATT_S3_ACCESS_KEY"], SecretKey: env["AGENTWATT_S3_SECRET_KEY"],
	})
	if err != nil {
		t.Fatalf("open local S3: %v", err)
	}
	return st
}

func TestLocalRestartKeepsJobsAndObjects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()

	first, info := startLocalChild(t, dir)
	env := readEnvFile(t, dir)
	if env["AGENTWATT_SERVER"] != info.Server {
		t.Fatalf("env file server %q, local.json %q", env["AGENTWATT_SERVER"], info.Server)
	}
	example, err := os.ReadFile("../../examples/submissions/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	client := bots.Client{BaseURL: info.Server, Token: env["AGENTWATT_TOKEN"]}
	sub, err := client.Submit(ctx, example, "restart-test", "")
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	payload := bytes.Repeat([]byte("agentwatt "), 100_000)
	if err := openLocalStore(t, ctx, env).PutBytes(ctx, "runs/restart-test/object", payload, "text/plain"); err != nil {
		t.Fatalf("put: %v", err)
	}
	// A second stack on the same directory is refused while the first runs.
	second := exec.Command(os.Args[0], "-test.run=^$")
	args, _ := json.Marshal([]string{"local", "--dir", dir, "--nats-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"})
	second.Env = append(os.Environ(), childArgsEnv+"="+string(args))
	if out, err := second.CombinedOutput(); err == nil || !strings.Contains(string(out), "in use") {
		t.Errorf("second stack on the same dir: err %v, output %s; want a refusal naming the lock", err, out)
	}
	first.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "local.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("local.json left behind after a clean stop: %v", err)
	}

	_, info = startLocalChild(t, dir)
	env2 := readEnvFile(t, dir)
	if env2["AGENTWATT_TOKEN"] != env["AGENTWATT_TOKEN"] || env2["AGENTWATT_S3_SECRET_KEY"] != env["AGENTWATT_S3_SECRET_KEY"] {
		t.Errorf("token or S3 credentials changed across a restart")
	}
	client = bots.Client{BaseURL: info.Server, Token: env2["AGENTWATT_TOKEN"]}
	if job, err := client.Job(ctx, sub.ID); err != nil || job.State != queue.Queued {
		t.Errorf("job after restart: %+v, %v; want queued", job, err)
	}
	got, err := openLocalStore(t, ctx, env2).GetBytes(ctx, "runs/restart-test/object", int64(len(payload))+1)
	if err != nil {
		t.Fatalf("get after restart: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Errorf("object after restart: %d bytes, want %d identical bytes", len(got), len(payload))
	}
	// The same submission and trigger is still the same job.
	again, err := client.Submit(ctx, example, "restart-test", "")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != sub.ID || again.Created {
		t.Errorf("resubmission after restart = %+v, want job %s, not created", again, sub.ID)
	}
}
