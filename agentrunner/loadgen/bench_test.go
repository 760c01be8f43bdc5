package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

// typicalStream is a vLLM-shaped stream: a role chunk, n content chunks of
// one token each, a finish chunk, the usage chunk and [DONE].
func typicalStream(n int) []byte {
	var b bytes.Buffer
	head := `{"id":"chatcmpl-8f2a","object":"chat.completion.chunk","created":1760000000,"model":"deepseek-ai/DeepSeek-V4-Pro","choices":[{"index":0,"delta":`
	fmt.Fprintf(&b, "data: %s{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n", head)
	for i := range n {
		fmt.Fprintf(&b, "data: %s{\"content\":\" tok%d\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n", head, i%1000)
	}
	fmt.Fprintf(&b, "data: %s{\"content\":\"\"},\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n", head)
	fmt.Fprintf(&b, "data: {\"id\":\"chatcmpl-8f2a\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":21000,\"total_tokens\":%d,\"completion_tokens\":%d,\"prompt_tokens_details\":{\"cached_tokens\":20480}}}\n\n", 21000+n, n)
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// parseStream decodes and parses every event of the stream in d.
func parseStream(d *SSEDecoder, c *Chunk) (events int, err error) {
	for {
		ev, err := d.Next()
		if err != nil {
			if err == io.EOF {
				return events, nil
			}
			return events, err
		}
		events++
		if ev.IsDone() {
			continue
		}
		if err := ParseChunk(ev.Data, c); err != nil {
			return events, err
		}
	}
}

// TestSSEParseAllocatesNothing: decoding and parsing a stream with a warm
// decoder allocates nothing per event.
func TestSSEParseAllocatesNothing(t *testing.T) {
	streams := [][]byte{typicalStream(200)}
	for name, s := range recordedStreams(t) {
		if !strings.Contains(name, "error") { // an error's message is allocated, off the hot path
			streams = append(streams, s)
		}
	}
	d := NewSSEDecoder(nil, testClock, 0, 0)
	var br bytes.Reader
	var c Chunk
	for _, s := range streams {
		allocs := testing.AllocsPerRun(50, func() {
			br.Reset(s)
			d.Reset(&br)
			if _, err := parseStream(d, &c); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Fatalf("%v allocations per stream", allocs)
		}
	}
}

func BenchmarkSSEParse(b *testing.B) {
	const n = 1000
	s := typicalStream(n)
	d := NewSSEDecoder(nil, testClock, 64<<10, 0)
	var br bytes.Reader
	var c Chunk
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	events := 0
	cpu0 := processCPU()
	for b.Loop() {
		br.Reset(s)
		d.Reset(iotestChunks{&br, 4096})
		k, err := parseStream(d, &c)
		if err != nil {
			b.Fatal(err)
		}
		events += k
	}
	// Wall time per event, and CPU time per event, which a loaded machine
	// does not inflate.
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(events), "cpu-ns/event")
}

// iotestChunks returns at most n bytes per read, like a socket.
type iotestChunks struct {
	r io.Reader
	n int
}

func (c iotestChunks) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

const benchServerEnv = "LOADGEN_BENCH_SERVER_HELPER"

// TestBenchServerHelper is BenchmarkClientStream's server, run in its own
// process so that its CPU is not the client's: it serves a typical stream,
// one write and flush per event, on every request.
func TestBenchServerHelper(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(benchServerEnv))
	if n == 0 {
		t.Skip("helper for BenchmarkClientStream")
	}
	events := bytes.SplitAfter(typicalStream(n), []byte("\n\n"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); os.Exit(0) }() // the parent closes stdin to stop us
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for _, e := range events {
			_, _ = w.Write(e)
			f.Flush()
		}
	}))
}

// BenchmarkClientStream measures the client's CPU per event against merely
// reading the same response bytes off the same sockets (the HTTP body read
// to the end, no parsing): both arms alternate in one run against a server
// in another process, and the ratio is reported as cpu_ratio.
func BenchmarkClientStream(b *testing.B) {
	const n = 2000
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchServerHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", benchServerEnv, n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	var addr string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		b.Fatal("bench server did not start")
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	url := "http://" + addr
	c, err := NewClient(context.Background(), ClientConfig{Endpoint: url, Model: "m", Clock: NewClock(time.Now())})
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseIdleConnections()
	raw := &http.Client{Transport: NewTransport(ClientConfig{ReadBufferSize: 32 << 10, WriteBufferSize: 64 << 10, IdleConnTimeout: time.Minute})}
	defer raw.CloseIdleConnections()
	req := &ChatRequest{Messages: [][]byte{[]byte(`[{"role":"user","content":"hi"}]`)}, MaxTokens: n}
	events := int64(n + 4)
	buf := make([]byte, 32<<10)

	var clientCPU, rawCPU time.Duration
	var rec metrics.Request
	b.ReportAllocs()
	for b.Loop() {
		t0 := processCPU()
		if _, err := c.Stream(context.Background(), req, &rec); err != nil || rec.Status != metrics.StatusOK {
			b.Fatalf("%v %s %s", err, rec.Status, rec.Error)
		}
		t1 := processCPU()
		resp, err := raw.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, onlyReader{resp.Body}, buf); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		clientCPU += t1 - t0
		rawCPU += processCPU() - t1
	}
	total := float64(int64(b.N) * events)
	b.ReportMetric(float64(clientCPU.Nanoseconds())/total, "client-cpu-ns/event")
	b.ReportMetric(float64(rawCPU.Nanoseconds())/total, "read-cpu-ns/event")
	if rawCPU > 0 {
		b.ReportMetric(float64(clientCPU)/float64(rawCPU), "cpu_ratio")
	}
}

// onlyReader hides WriterTo so that the raw arm reads like the client does.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
