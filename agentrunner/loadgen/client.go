package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/agentwatt/agentwatt/metrics"
)

// ClientConfig configures the streaming client. Zero values take the
// defaults noted.
type ClientConfig struct {
	Endpoint       string  // server base URL, e.g. http://127.0.0.1:8000 (a trailing /v1 is accepted)
	Model          string  // model name; "" asks /v1/models (which must list exactly one)
	APIKey         string  // sent as "Authorization: Bearer …" when set
	AffinityHeader string  // header carrying ChatRequest.Session (e.g. "X-Session-ID"); none when ""
	Temperature    float64 // the rules' sampling parameters, sent on every request
	TopP           float64
	Clock          Clock // the run's clock; every timestamp comes from it

	// MaxThinkTime is the longest an agent waits between the end of one
	// answer and its next request (the rules profile's think-time cap).
	MaxThinkTime time.Duration
	// IdleConnTimeout is how long an idle keep-alive connection is kept;
	// default MaxThinkTime + IdleMargin, so that an agent's connection is
	// still there after its longest think and no dial lands inside the next
	// request's TTFT. (A server whose own keep-alive is shorter still closes
	// it: see Stream.)
	IdleConnTimeout time.Duration
	ReadBufferSize  int // per connection; default 32 KiB
	WriteBufferSize int // per connection; default 64 KiB
	MaxEventBytes   int // largest server-sent event; default 4 MiB
	// StallTimeout aborts a request that receives no event for this long,
	// counting from the send (so it must exceed the worst TTFT); 0: never.
	StallTimeout time.Duration
	// MaxRequestTime aborts a request that has not ended this long after
	// its send, however steadily events arrive (a server streaming empty
	// events forever would otherwise hold it, and a probe waiting for its
	// window's requests, open); recorded as an error. 0: never.
	MaxRequestTime time.Duration
	// Observer, when set, receives each request's connection timing (the
	// HealthMonitor implements it).
	Observer RequestObserver
	// UserTimestamps stamps events when the client reads them. By default
	// (64-bit Linux) they carry the kernel's receive time of their bytes
	// (SO_TIMESTAMPNS), which a busy client cannot delay.
	UserTimestamps bool
}

// IdleMargin is what the default idle timeout adds to MaxThinkTime: room
// for scheduling lag and for the time between an answer's last event and
// its connection going back to the pool.
const IdleMargin = 10 * time.Second

// RequestObserver receives the connection timing of every request.
type RequestObserver interface {
	// ObserveRequest is called once per request that got a response:
	// connWait is the time from asking the pool for a connection to having
	// one (dial included), serverTTFB the time from the request being
	// written to the first response byte; kernelStamps tells whether its
	// events carry the kernel's receive time (else the client's read time).
	ObserveRequest(connWait, serverTTFB time.Duration, kernelStamps bool)
}

// ChatRequest is one turn to send.
type ChatRequest struct {
	// Messages is the JSON array of chat messages, "[" and "]" included, as
	// immutable segments written in order (see Body).
	Messages [][]byte
	// MaxTokens is the forced output length, sent as max_tokens and
	// min_tokens with ignore_eos.
	MaxTokens int
	// Session is the affinity header's value (when the client has one).
	Session string
	// RecordChunks records every output event's arrival offset (the rules'
	// seeded sample of requests).
	RecordChunks bool
	// Answer, when set, receives the answer's text (see Answer); it is reset
	// first. Nil: no text is captured.
	Answer *Answer
}

// StreamInfo is how one request went on the wire, beyond its record.
type StreamInfo struct {
	ConnWait     time.Duration // asking for a connection → having one
	ServerTTFB   time.Duration // request written → first response byte
	ReusedConn   bool
	HTTPStatus   int
	FinishReason string
}

// Client streams chat completions from an OpenAI-compatible server over
// HTTP/1.1, one keep-alive connection per in-flight stream (no HTTP/2: a
// multiplexed connection would couple the streams' timing). It is safe for
// concurrent use by any number of agents.
type Client struct {
	cfg      ClientConfig
	http     *http.Client
	chatURL  string
	prefix   []byte // `{"model":…,"stream":true,…,"max_tokens":`
	decoders sync.Pool
}

// NewClient builds a client; without cfg.Model it asks the server's
// /v1/models.
func NewClient(ctx context.Context, cfg ClientConfig) (*Client, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("client: endpoint is required")
	}
	if cfg.Clock == (Clock{}) {
		return nil, errors.New("client: a run clock is required")
	}
	cfg.Endpoint = baseURL(cfg.Endpoint)
	if cfg.MaxThinkTime < 0 {
		return nil, errors.New("client: negative think time")
	}
	if cfg.IdleConnTimeout <= 0 {
		cfg.IdleConnTimeout = cfg.MaxThinkTime + IdleMargin
	}
	if cfg.ReadBufferSize <= 0 {
		cfg.ReadBufferSize = 32 << 10
	}
	if cfg.WriteBufferSize <= 0 {
		cfg.WriteBufferSize = 64 << 10
	}
	if cfg.MaxEventBytes <= 0 {
		cfg.MaxEventBytes = defaultSSEMaxEvent
	}
	c := &Client{cfg: cfg, http: &http.Client{Transport: NewTransport(cfg)}, chatURL: cfg.Endpoint + "/v1/chat/completions"}
	if c.cfg.Model == "" {
		m, err := discoverModel(ctx, c.http, cfg.Endpoint, cfg.APIKey)
		if err != nil {
			return nil, err
		}
		c.cfg.Model = m
	}
	c.prefix = buildPrefix(c.cfg)
	c.decoders.New = func() any { return NewSSEDecoder(nil, cfg.Clock, defaultSSEBuffer, cfg.MaxEventBytes) }
	return c, nil
}

// Model is the model name the client sends.
func (c *Client) Model() string { return c.cfg.Model }

// CloseIdleConnections closes the pool's idle connections.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// NewTransport is the client's HTTP transport: HTTP/1.1 only (no HTTP/2,
// also not over TLS), no limit on connections per host, a large idle pool,
// big buffers, no transparent compression (it would delay events). With a
// run clock and not cfg.UserTimestamps, its TCP connections keep the
// kernel's receive time of what they read (rxConn).
func NewTransport(cfg ClientConfig) *http.Transport {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	dial := dialer.DialContext
	if cfg.Clock != (Clock{}) && !cfg.UserTimestamps {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return withRxTimestamps(c, cfg.Clock), nil
		}
	}
	return &http.Transport{
		Proxy:               nil,
		DialContext:         dial,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: 1 << 20,
		MaxConnsPerHost:     0,
		IdleConnTimeout:     cfg.IdleConnTimeout,
		DisableCompression:  true,
		ReadBufferSize:      cfg.ReadBufferSize,
		WriteBufferSize:     cfg.WriteBufferSize,
		TLSHandshakeTimeout: 30 * time.Second,
	}
}

func baseURL(endpoint string) string {
	e := strings.TrimRight(endpoint, "/")
	e = strings.TrimSuffix(e, "/v1")
	return strings.TrimRight(e, "/")
}

// buildPrefix renders the fixed part of every request body up to the value
// of max_tokens.
func buildPrefix(cfg ClientConfig) []byte {
	b := []byte(`{"model":"`)
	b = metrics.AppendJSONString(b, cfg.Model, false)
	b = append(b, `","stream":true,"stream_options":{"include_usage":true},"ignore_eos":true,"temperature":`...)
	b = strconv.AppendFloat(b, cfg.Temperature, 'g', -1, 64)
	b = append(b, `,"top_p":`...)
	b = strconv.AppendFloat(b, cfg.TopP, 'g', -1, 64)
	return append(b, `,"max_tokens":`...)
}

// requestBody is prefix N `,"min_tokens":` N `,"messages":` messages `}`.
func (c *Client) requestBody(req *ChatRequest) *Body {
	head := make([]byte, 0, len(c.prefix)+48)
	head = append(head, c.prefix...)
	head = strconv.AppendInt(head, int64(req.MaxTokens), 10)
	head = append(head, `,"min_tokens":`...)
	head = strconv.AppendInt(head, int64(req.MaxTokens), 10)
	head = append(head, `,"messages":`...)
	segs := make([][]byte, 0, len(req.Messages)+2)
	segs = append(segs, head)
	segs = append(segs, req.Messages...)
	segs = append(segs, closeBrace)
	return NewBody(segs...)
}

var closeBrace = []byte("}")

// errStalled is the cancellation cause of a stalled stream; errTooLong
// that of one past MaxRequestTime.
var (
	errStalled = errors.New("no event within the stall timeout")
	errTooLong = errors.New("request outlasted the client's longest request time")
)

// maxStaleRetries bounds the resends of a request whose reused connection
// turned out to be closed (see Stream).
const maxStaleRetries = 2

// maxErrorText bounds the error text kept in a record.
const maxErrorText = 512

// Stream sends one chat completion request and reads its event stream to
// the end, filling rec's timing, token and status fields (the caller sets
// the identity fields: probe, phase, agent, session, subagent, trajectory,
// turn, target_prompt_tokens). Failures of the server or the stream are data:
// they are recorded in rec.Status and rec.Error, not returned. The error
// return is non-nil only when ctx ended the request, in which case the
// record is marked as an error with the cause and the caller may drop it.
func (c *Client) Stream(ctx context.Context, req *ChatRequest, rec *metrics.Request) (StreamInfo, error) {
	*rec = metrics.Request{
		Probe: rec.Probe, Phase: rec.Phase, Agent: rec.Agent, Session: rec.Session, Subagent: rec.Subagent,
		Trajectory: rec.Trajectory, Turn: rec.Turn, TargetPromptTokens: rec.TargetPromptTokens,
		TargetCompletionTokens: req.MaxTokens,
	}
	var info StreamInfo
	clock := c.cfg.Clock

	reqCtx := ctx
	var stall *time.Timer
	if c.cfg.StallTimeout > 0 || c.cfg.MaxRequestTime > 0 {
		var cancel context.CancelCauseFunc
		reqCtx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		if c.cfg.StallTimeout > 0 {
			stall = time.AfterFunc(c.cfg.StallTimeout, func() { cancel(errStalled) })
			defer stall.Stop()
		}
		if c.cfg.MaxRequestTime > 0 {
			limit := time.AfterFunc(c.cfg.MaxRequestTime, func() { cancel(errTooLong) })
			defer limit.Stop()
		}
	}
	var getConn, gotConn, wrote, firstByte atomic.Int64
	var reused atomic.Bool
	var rx atomic.Pointer[rxConn]
	reqCtx = httptrace.WithClientTrace(reqCtx, &httptrace.ClientTrace{
		// The first GetConn: a request resent on a new connection (see
		// below) waited for both.
		GetConn: func(string) { getConn.CompareAndSwap(0, clock.Now()) },
		GotConn: func(ci httptrace.GotConnInfo) {
			gotConn.Store(clock.Now())
			reused.Store(ci.Reused)
			if rc, ok := ci.Conn.(*rxConn); ok {
				rx.Store(rc)
			}
		},
		WroteRequest:         func(httptrace.WroteRequestInfo) { wrote.Store(clock.Now()) },
		GotFirstResponseByte: func() { firstByte.Store(clock.Now()) },
	})

	body := c.requestBody(req)
	hreq, err := http.NewRequestWithContext(reqCtx, http.MethodPost, c.chatURL, body)
	if err != nil {
		c.finishError(rec, "build request: "+err.Error())
		return info, nil
	}
	hreq.ContentLength = body.Len()
	hreq.GetBody = func() (io.ReadCloser, error) { return body.Clone(), nil }
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	if c.cfg.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	if c.cfg.AffinityHeader != "" && req.Session != "" {
		hreq.Header.Set(c.cfg.AffinityHeader, req.Session)
	}

	rec.TSendNs = clock.Now()
	resp, err := c.http.Do(hreq)
	// A server whose keep-alive is shorter than an agent's think time
	// closes idle connections; one that closes just as a request goes out
	// on it fails that request before any response byte. Such a request is
	// sent again on another connection (at most twice); its record's clock
	// runs from the first try, and the connection wait covers them all.
	for try := 1; err != nil && try <= maxStaleRetries && reused.Load() && firstByte.Load() == 0 && reqCtx.Err() == nil; try++ {
		reused.Store(false)
		hreq = hreq.Clone(reqCtx)
		hreq.Body = body.Clone()
		resp, err = c.http.Do(hreq)
	}
	info.ReusedConn = reused.Load()
	if gc, gt := getConn.Load(), gotConn.Load(); gc > 0 && gt >= gc {
		info.ConnWait = time.Duration(gt - gc)
	}
	if w, fb := wrote.Load(), firstByte.Load(); w > 0 && fb >= w {
		info.ServerTTFB = time.Duration(fb - w)
	}
	if err != nil {
		return info, c.finishTransportError(ctx, reqCtx, rec, err)
	}
	defer resp.Body.Close()
	info.HTTPStatus = resp.StatusCode
	if c.cfg.Observer != nil {
		c.cfg.Observer.ObserveRequest(info.ConnWait, info.ServerTTFB, rx.Load() != nil)
	}
	if resp.StatusCode != http.StatusOK {
		c.finishError(rec, fmt.Sprintf("http %d: %s", resp.StatusCode, errorBodyText(resp.Body)))
		return info, nil
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		c.finishError(rec, fmt.Sprintf("unexpected content type %q: %s", ct, errorBodyText(resp.Body)))
		return info, nil
	}

	dec := c.decoders.Get().(*SSEDecoder)
	dec.Reset(resp.Body)
	if rc := rx.Load(); rc != nil {
		dec.stampFromKernel(rc, rec.TSendNs)
	}
	defer func() {
		dec.Reset(nil)
		c.decoders.Put(dec)
	}()
	if req.RecordChunks {
		rec.ChunkOffsetsNs = make([]int64, 0, min(max(req.MaxTokens, 16), 1<<16))
	}
	if req.Answer != nil {
		req.Answer.Reset()
	}

	var (
		ch        Chunk
		usage     Chunk
		gotUsage  bool
		done      bool
		failure   string
		streamErr string
	)
	for {
		ev, err := dec.Next()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				failure = "stream closed before [DONE]"
			case errors.Is(err, io.ErrUnexpectedEOF):
				failure = "stream closed inside an event, before [DONE]"
			default:
				failure = "read stream: " + err.Error()
			}
			break
		}
		if stall != nil {
			stall.Reset(c.cfg.StallTimeout)
		}
		if ev.IsDone() {
			done = true
			break
		}
		if err := ParseChunk(ev.Data, &ch); err != nil {
			failure = err.Error()
			break
		}
		if ch.Error {
			if streamErr == "" {
				streamErr = "stream error: " + ch.ErrorMessage
			}
			continue
		}
		if ch.Output {
			rec.Chunks++
			if rec.TFirstNs == 0 {
				rec.TFirstNs = ev.TimeNs
			}
			rec.TLastNs = ev.TimeNs
			if req.RecordChunks {
				rec.ChunkOffsetsNs = append(rec.ChunkOffsetsNs, ev.TimeNs-rec.TSendNs)
			}
			if req.Answer != nil {
				req.Answer.add(&ch)
			}
		}
		if ch.Usage {
			usage, gotUsage = ch, true
		}
		if ch.FinishReason != "" {
			info.FinishReason = ch.FinishReason
		}
	}
	if done {
		dec.Drain(64 << 10)
	}
	if rec.TFirstNs == 0 {
		rec.TLastNs = clock.Now()
	}

	if gotUsage {
		rec.PromptTokens = usage.PromptTokens
		rec.CompletionTokens = usage.CompletionTokens
		rec.CachedTokens = usage.CachedTokens
		rec.TokenCountSource = metrics.TokenSourceUsage
	} else {
		rec.CompletionTokens = rec.Chunks
		rec.TokenCountSource = metrics.TokenSourceClient
	}
	if cause := context.Cause(reqCtx); cause != nil && failure != "" {
		if ctx.Err() != nil {
			c.finishError(rec, "canceled: "+context.Cause(ctx).Error())
			return info, ctx.Err()
		}
		failure = cause.Error()
	}
	switch {
	case failure != "":
		c.finishError(rec, failure)
	case streamErr != "":
		c.finishError(rec, streamErr)
	case rec.CompletionTokens > 0 && rec.Chunks == 0:
		c.finishError(rec, fmt.Sprintf("usage reports %d completion tokens but no event carried output", rec.CompletionTokens))
	case gotUsage && rec.CompletionTokens < req.MaxTokens:
		rec.Status = metrics.StatusTruncated
		rec.Error = fmt.Sprintf("server stopped after %d of %d tokens (finish_reason %q)",
			rec.CompletionTokens, req.MaxTokens, info.FinishReason)
	case !gotUsage && info.FinishReason != FinishLength:
		rec.Status = metrics.StatusTruncated
		rec.Error = fmt.Sprintf("no usage reported and finish_reason %q, not %q", info.FinishReason, FinishLength)
	default:
		rec.Status = metrics.StatusOK
	}
	return info, nil
}

// finishError marks the record as errored with a bounded, valid UTF-8 text.
func (c *Client) finishError(rec *metrics.Request, msg string) {
	rec.Status = metrics.StatusError
	rec.Error = boundText(msg, maxErrorText)
	if rec.TLastNs == 0 {
		rec.TLastNs = c.cfg.Clock.Now()
	}
	if rec.TokenCountSource == "" {
		rec.CompletionTokens = rec.Chunks
		rec.TokenCountSource = metrics.TokenSourceClient
	}
}

// finishTransportError records a request that got no response.
func (c *Client) finishTransportError(ctx, reqCtx context.Context, rec *metrics.Request, err error) error {
	if ctx.Err() != nil {
		c.finishError(rec, "canceled: "+context.Cause(ctx).Error())
		return ctx.Err()
	}
	if cause := context.Cause(reqCtx); cause != nil {
		c.finishError(rec, cause.Error())
		return nil
	}
	c.finishError(rec, "request: "+err.Error())
	return nil
}

// errorBodyText reads a bounded error body and returns its message: the
// OpenAI error object's message when it is one, else the text.
func errorBodyText(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	var ch Chunk
	if ParseChunk(b, &ch) == nil && ch.Error && ch.ErrorMessage != "" {
		return ch.ErrorMessage
	}
	return strings.TrimSpace(string(b))
}

// boundText cuts s to at most n bytes of valid UTF-8.
func boundText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
