package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The token server is the benchmarks' cheap stand-in for an engine, run in
// its own process (optionally pinned to a CPU of its own) so that its CPU
// is not the client's. It reads and discards the request body and streams
// max_tokens one-token chunks on a fixed schedule: the first `ttft` after
// the request arrived, then one every `interval`. It notes the
// CLOCK_MONOTONIC time just before each chunk's write, per stream, keyed by
// the X-Session-ID header, and writes them as JSON lines to the log file
// when its stdin closes.

const tokenServerEnv = "REPLAY_TOKEN_SERVER"

// tokenServerConfig is passed to the helper as JSON in tokenServerEnv.
type tokenServerConfig struct {
	TTFT     time.Duration
	Interval time.Duration
	Log      string // where to write the send times ("" keeps none)
}

// streamLog is one stream's true send times.
type streamLog struct {
	Session string  `json:"s"`
	RecvNs  int64   `json:"r"`
	Writes  []int64 `json:"w"`
}

func monoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// TestTokenServerHelper is the token server's process; it does nothing in
// a normal test run.
func TestTokenServerHelper(t *testing.T) {
	raw := os.Getenv(tokenServerEnv)
	if raw == "" {
		t.Skip("helper process for the benchmarks")
	}
	var cfg tokenServerConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs []streamLog
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			_, _ = io.WriteString(w, `{"object":"list","data":[{"id":"token-server"}]}`)
			return
		}
		recv := monoNow()
		n := bodyMaxTokens(r.Body)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		_, _ = io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n")
		f.Flush()
		sl := streamLog{Session: r.Header.Get("X-Session-ID"), RecvNs: recv}
		if cfg.Log != "" {
			sl.Writes = make([]int64, 0, n)
		}
		start := time.Now()
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for i := range n {
			due := start.Add(cfg.TTFT + time.Duration(i)*cfg.Interval)
			if d := time.Until(due); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-r.Context().Done():
					return
				}
			}
			if cfg.Log != "" {
				sl.Writes = append(sl.Writes, monoNow())
			}
			_, _ = io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" tok\"}}]}\n\n")
			f.Flush()
		}
		fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n"+
			"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\ndata: [DONE]\n\n", n, n+1)
		f.Flush()
		if cfg.Log != "" {
			mu.Lock()
			logs = append(logs, sl)
			mu.Unlock()
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	_, _ = io.Copy(io.Discard, os.Stdin) // the parent closes stdin to stop us
	if cfg.Log != "" {
		mu.Lock()
		f, err := os.Create(cfg.Log)
		if err == nil {
			bw := bufio.NewWriter(f)
			enc := json.NewEncoder(bw)
			for i := range logs {
				_ = enc.Encode(&logs[i])
			}
			_ = bw.Flush()
			_ = f.Close()
		}
		mu.Unlock()
	}
	os.Exit(0)
}

// bodyMaxTokens reads max_tokens from the start of a loadgen request body
// (the client writes it before the messages) without reading the rest.
func bodyMaxTokens(r io.Reader) int {
	buf := make([]byte, 512)
	n, _ := io.ReadAtLeast(r, buf, 1)
	_, after, ok := bytes.Cut(buf[:n], []byte(`"max_tokens":`))
	if !ok {
		return 1
	}
	end := bytes.IndexAny(after, ",}")
	if end < 0 {
		return 1
	}
	v, err := strconv.Atoi(string(after[:end]))
	if err != nil || v < 1 {
		return 1
	}
	return v
}

// tokenServer is a running helper process.
type tokenServer struct {
	url   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	log   string
}

// startTokenServer starts the helper; cpu ≥ 0 pins it to that CPU (with
// taskset, when present).
func startTokenServer(b testing.TB, cfg tokenServerConfig, cpu int) *tokenServer {
	b.Helper()
	raw, _ := json.Marshal(cfg)
	args := []string{os.Args[0], "-test.run=^TestTokenServerHelper$", "-test.count=1"}
	if cpu >= 0 {
		if ts, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{ts, "-c", strconv.Itoa(cpu)}, args...)
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), tokenServerEnv+"="+string(raw), "GOMAXPROCS=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &tokenServer{cmd: cmd, stdin: stdin, log: cfg.Log}
	b.Cleanup(func() { s.stop() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
			s.url = "http://" + addr
			break
		}
	}
	if s.url == "" {
		b.Fatal("token server did not start")
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return s
}

// stop ends the helper and returns its stream logs.
func (s *tokenServer) stop() []streamLog {
	if s.stdin == nil {
		return nil
	}
	s.stdin.Close()
	s.stdin = nil
	_ = s.cmd.Wait()
	if s.log == "" {
		return nil
	}
	f, err := os.Open(s.log)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []streamLog
	dec := json.NewDecoder(f)
	for {
		var l streamLog
		if dec.Decode(&l) != nil {
			break
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RecvNs < out[j].RecvNs })
	return out
}

// pinSelf pins every thread of this process to cpu with taskset; it
// reports whether it could.
func pinSelf(cpu int) bool {
	if runtime.NumCPU() < 2 {
		return false
	}
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return false
	}
	return exec.Command(ts, "-a", "-p", "-c", strconv.Itoa(cpu), strconv.Itoa(os.Getpid())).Run() == nil
}

// unpinSelf lets every thread run on every CPU again.
func unpinSelf() {
	if ts, err := exec.LookPath("taskset"); err == nil {
		_ = exec.Command(ts, "-a", "-p", "-c", fmt.Sprintf("0-%d", runtime.NumCPU()-1), strconv.Itoa(os.Getpid())).Run()
	}
}
