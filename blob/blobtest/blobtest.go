package blobtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/blob"
)

// envChild, set to "1", turns the test binary into the gateway child.
const envChild = "AGENTWATT_BLOBTEST_GATEWAY"

// startTimeout bounds the child's start (exec plus gateway health check).
const startTimeout = 60 * time.Second

// hello is the line the child prints once its gateway is ready.
type hello struct {
	Endpoint  string `json:"endpoint"`
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
	Region    string `json:"region"`
	Error     string `json:"error,omitempty"`
}

var (
	once     sync.Once
	shared   blob.Config // without Bucket
	startErr error
	// lifeline is the write end of the child's stdin. It is never
	// closed or dropped (a dropped *os.File would be closed by its
	// finalizer): the child lives exactly as long as this process.
	//lint:ignore U1000 only ever written: holding it is the point.
	lifeline io.WriteCloser
	exited   atomic.Value // error from child.Wait, once it returns
	buckets  atomic.Int64
)

// Start returns a blob.Config for a new, empty bucket on the process's
// shared embedded gateway, starting the gateway on first use. It fails t
// if the gateway cannot start.
func Start(t testing.TB) blob.Config {
	t.Helper()
	once.Do(func() { shared, startErr = spawn() })
	if startErr != nil {
		t.Fatalf("blobtest: %v", startErr)
	}
	cfg := shared
	cfg.Bucket = bucketName(t.Name(), buckets.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := blob.Open(ctx, cfg, blob.WithRetry(blob.Retry{Attempts: 1})); err != nil {
		if e, ok := exited.Load().(error); ok {
			err = fmt.Errorf("%w (gateway child exited: %v)", err, e)
		}
		t.Fatalf("blobtest: create bucket %s: %v", cfg.Bucket, err)
	}
	return cfg
}

// Store opens a *blob.Store on a new bucket (see Start).
func Store(t testing.TB, opts ...blob.Option) *blob.Store {
	t.Helper()
	cfg := Start(t)
	st, err := blob.Open(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatalf("blobtest: open: %v", err)
	}
	return st
}

// bucketName makes a valid, unique bucket name that shows the test.
func bucketName(test string, n int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "bt%d-", n)
	dash := true
	for _, r := range strings.ToLower(test) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// spawn starts the gateway child and reads its hello line.
func spawn() (blob.Config, error) {
	exe, err := os.Executable()
	if err != nil {
		return blob.Config{}, fmt.Errorf("find test binary: %w", err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return blob.Config{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return blob.Config{}, err
	}
	if err := cmd.Start(); err != nil {
		return blob.Config{}, fmt.Errorf("start gateway child: %w", err)
	}
	lifeline = stdin
	go func() {
		err := cmd.Wait()
		if err == nil {
			err = errors.New("exit status 0")
		}
		exited.Store(err)
	}()

	lines := make(chan hello, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, err := r.ReadBytes('\n')
		var h hello
		if err != nil {
			h.Error = fmt.Sprintf("read hello: %v", err)
		} else if err := json.Unmarshal(line, &h); err != nil {
			h.Error = fmt.Sprintf("bad hello %q: %v", line, err)
		}
		lines <- h
		io.Copy(io.Discard, r) // never block the child on a full pipe
	}()
	select {
	case h := <-lines:
		if h.Error != "" {
			return blob.Config{}, fmt.Errorf("gateway child: %s", h.Error)
		}
		return blob.Config{Endpoint: h.Endpoint, AccessKey: h.AccessKey, SecretKey: h.SecretKey, Region: h.Region}, nil
	case <-time.After(startTimeout):
		cmd.Process.Kill()
		return blob.Config{}, fmt.Errorf("gateway child not ready after %s", startTimeout)
	}
}
