package s3embed

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/blob"
)

func testLog(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t))
}

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	cfg.Quiet = true
	s, err := Start(context.Background(), cfg, testLog(t))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

func TestStartServeStop(t *testing.T) {
	cwd, _ := os.Getwd()
	dir := t.TempDir()
	s := start(t, Config{Dir: dir})

	host, port, err := net.SplitHostPort(s.Endpoint())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Endpoint = %q, want 127.0.0.1 and a picked port", s.Endpoint())
	}
	if s.URL() != "http://"+s.Endpoint() || s.Dir() != dir {
		t.Errorf("URL %q, Dir %q", s.URL(), s.Dir())
	}
	// The POSIX backend's documented side effect.
	if wd, _ := os.Getwd(); wd != filepath.Join(dir, "data") {
		t.Errorf("working directory while running = %q, want %q", wd, filepath.Join(dir, "data"))
	}

	access, secret := s.Credentials()
	if len(access) != 20 || len(secret) != 40 {
		t.Errorf("credential lengths %d/%d, want 20/40", len(access), len(secret))
	}
	fi, err := os.Stat(filepath.Join(dir, credentialsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	var onDisk credentials
	b, _ := os.ReadFile(filepath.Join(dir, credentialsFile))
	if err := json.Unmarshal(b, &onDisk); err != nil || onDisk.AccessKey != access || onDisk.SecretKey != secret {
		t.Errorf("credentials on disk %+v (%v) differ from Credentials()", onDisk, err)
	}

	ctx := context.Background()
	cfg := s.BlobConfig("things")
	if cfg.Endpoint != s.Endpoint() || cfg.Region != Region || cfg.Bucket != "things" || cfg.Secure {
		t.Errorf("BlobConfig = %+v", cfg)
	}
	st, err := blob.Open(ctx, cfg, blob.WithRetry(blob.Retry{Attempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutBytes(ctx, "a/b", []byte("hello"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	if got, err := st.GetBytes(ctx, "a/b", 100); err != nil || string(got) != "hello" {
		t.Fatalf("GetBytes = %q, %v", got, err)
	}
	// Objects are plain files under Dir/data, metadata under Dir/meta.
	if b, err := os.ReadFile(filepath.Join(dir, "data", "things", "a", "b")); err != nil || string(b) != "hello" {
		t.Errorf("object file: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "meta", "things")); err != nil {
		t.Errorf("sidecar metadata missing: %v", err)
	}

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if wd, _ := os.Getwd(); wd != cwd {
		t.Errorf("working directory after Stop = %q, want %q", wd, cwd)
	}
	if _, err := st.Stat(ctx, "a/b"); err == nil {
		t.Error("gateway still answers after Stop")
	}

	// In-process restart on the same Dir: same keys, same objects.
	s2 := start(t, Config{Dir: dir})
	if a2, s2secret := s2.Credentials(); a2 != access || s2secret != secret {
		t.Error("restart generated new credentials")
	}
	st2, err := blob.Open(ctx, s2.BlobConfig("things"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st2.GetBytes(ctx, "a/b", 100); err != nil || string(got) != "hello" {
		t.Fatalf("after restart GetBytes = %q, %v", got, err)
	}
}

func TestSecondStartFails(t *testing.T) {
	s := start(t, Config{Dir: t.TempDir()})
	_, err := Start(context.Background(), Config{Dir: t.TempDir(), Quiet: true}, testLog(t))
	if !errors.Is(err, ErrAlreadyRunning) || !strings.Contains(err.Error(), "one per process") {
		t.Fatalf("second Start = %v, want ErrAlreadyRunning", err)
	}
	// The first one is unaffected.
	st, err := blob.Open(context.Background(), s.BlobConfig("still-up"))
	if err != nil {
		t.Fatalf("first gateway after a refused Start: %v", err)
	}
	if err := st.PutBytes(context.Background(), "k", []byte("v"), ""); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s2 := start(t, Config{Dir: t.TempDir()})
	s2.Stop()
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr string
	}{
		{"", ""},
		{"127.0.0.1:0", ""},
		{"127.0.0.1:7070", ""},
		{"localhost:0", ""},
		{"[::1]:0", ""},
		{"127.5.6.7:0", ""},
		{":7070", "binds all interfaces"},
		{"0.0.0.0:0", "binds all interfaces"},
		{"[::]:0", "binds all interfaces"},
		{"10.1.2.3:0", "not a loopback"},
		{"example.com:80", "loopback IP or localhost"},
		{"127.0.0.1", "missing port"},
		{"127.0.0.1:99999", "bad port"},
		{"127.0.0.1:x", "bad port"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := Config{Dir: "d", Addr: tt.addr}.Validate()
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Validate = %v, want nil", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "Dir is required") {
		t.Errorf("empty Config: %v", err)
	}
	if _, err := Start(context.Background(), Config{Dir: t.TempDir(), Addr: "0.0.0.0:0"}, testLog(t)); err == nil {
		t.Error("Start bound all interfaces")
	}
}

func TestExplicitPortBusy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Start(context.Background(), Config{Dir: t.TempDir(), Addr: l.Addr().String(), Quiet: true}, testLog(t))
	if err == nil || !strings.Contains(err.Error(), "bind") {
		t.Fatalf("Start on a busy port = %v, want a bind error", err)
	}
	// The failed Start released the one-per-process guard.
	start(t, Config{Dir: t.TempDir()}).Stop()
}

func TestContextEndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, Config{Dir: t.TempDir(), Quiet: true}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-s.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("gateway still running 20 s after its context ended")
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop after context end = %v", err)
	}
	start(t, Config{Dir: t.TempDir()}).Stop()
}

func TestCredentialsFile(t *testing.T) {
	t.Run("corrupt", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, credentialsFile), []byte("{"), 0o600)
		_, err := Start(context.Background(), Config{Dir: dir, Quiet: true}, testLog(t))
		if err == nil || !strings.Contains(err.Error(), credentialsFile) {
			t.Fatalf("Start with corrupt credentials = %v", err)
		}
	})
	t.Run("empty keys", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, credentialsFile), []byte(`{"access_key":"A"}`), 0o600)
		if _, err := Start(context.Background(), Config{Dir: dir, Quiet: true}, testLog(t)); err == nil {
			t.Fatal("Start accepted a credentials file without a secret")
		}
	})
	t.Run("loose mode is tightened and the keys are used", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, credentialsFile)
		os.WriteFile(path, []byte(`{"access_key":"MYACCESSKEY","secret_key":"mysecretkey1234"}`), 0o644)
		s := start(t, Config{Dir: dir})
		if a, sk := s.Credentials(); a != "MYACCESSKEY" || sk != "mysecretkey1234" {
			t.Errorf("Credentials = %q, %q", a, sk)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
		}
		if _, err := blob.Open(context.Background(), s.BlobConfig("uses-file-keys")); err != nil {
			t.Errorf("keys from the file do not authenticate: %v", err)
		}
	})
	start(t, Config{Dir: t.TempDir()}).Stop() // every failure above released the guard
}

func TestRelativeDir(t *testing.T) {
	base := t.TempDir()
	t.Chdir(base)
	s := start(t, Config{Dir: "rel/store"})
	if want := filepath.Join(base, "rel", "store"); s.Dir() != want {
		t.Fatalf("Dir = %q, want %q", s.Dir(), want)
	}
	s.Stop()
	if wd, _ := os.Getwd(); wd != base {
		t.Errorf("working directory after Stop = %q, want %q", wd, base)
	}
}

// Restart across processes. The parent runs this test binary twice as a
// child (TestMain dispatches on envChild): the first writes objects and is
// killed with SIGKILL, the second starts on the same Dir and reads them.

const (
	envChild    = "S3EMBED_TEST_CHILD"
	envChildDir = "S3EMBED_TEST_DIR"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envChild); mode != "" {
		os.Exit(runChild(mode, os.Getenv(envChildDir)))
	}
	os.Exit(m.Run())
}

// restartObjects are written by the first child and read by the second.
var restartObjects = map[string]int{"runs/j/1/manifest.json": 700, "runs/j/1/requests.jsonl.zst": 20 << 20}

func restartPayload(key string, n int) []byte {
	var seed [32]byte
	copy(seed[:], key)
	b := make([]byte, n)
	rand.NewChaCha8(seed).Read(b)
	return b
}

func runChild(mode, dir string) int {
	ctx := context.Background()
	s, err := Start(ctx, Config{Dir: dir, Quiet: true}, zerolog.Nop())
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	st, err := blob.Open(ctx, s.BlobConfig("keep"))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	access, _ := s.Credentials()
	switch mode {
	case "write":
		for key, n := range restartObjects {
			if err := st.PutBytes(ctx, key, restartPayload(key, n), ""); err != nil {
				fmt.Println("error", err)
				return 1
			}
		}
		fmt.Println("written", access)
		select {} // the parent kills us
	case "read":
		for key, n := range restartObjects {
			got, err := st.GetBytes(ctx, key, -1)
			if err != nil || sha256.Sum256(got) != sha256.Sum256(restartPayload(key, n)) {
				fmt.Println("error", key, len(got), err)
				return 1
			}
		}
		fmt.Println("read-ok", access)
		return boolExit(s.Stop() != nil)
	}
	return 2
}

func boolExit(fail bool) int {
	if fail {
		return 1
	}
	return 0
}

func TestRestartKeepsObjects(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two child processes")
	}
	dir := t.TempDir()
	child := func(mode string) (*exec.Cmd, *bufio.Reader) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"="+mode, envChildDir+"="+dir)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, bufio.NewReader(out)
	}
	line := func(r *bufio.Reader) []string {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("child output: %q, %v", l, err)
		}
		return strings.Fields(l)
	}

	w, wout := child("write")
	got := line(wout)
	if len(got) != 2 || got[0] != "written" {
		w.Process.Kill()
		w.Wait()
		t.Fatalf("writer said %q", got)
	}
	access := got[1]
	if err := w.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	w.Wait()

	r, rout := child("read")
	got = line(rout)
	io.Copy(io.Discard, rout)
	if err := r.Wait(); err != nil || len(got) != 2 || got[0] != "read-ok" {
		t.Fatalf("reader said %q, exit %v", got, err)
	}
	if got[1] != access {
		t.Errorf("access key changed across restart: %s then %s", access, got[1])
	}
	if b, _ := os.ReadFile(filepath.Join(dir, credentialsFile)); !bytes.Contains(b, []byte(access)) {
		t.Errorf("credentials file does not hold the key the gateways used")
	}
}
