package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// chatJob is one accepted chat request on its way through the engine.
type chatJob struct {
	req     *chatRequest
	id      string
	created int64
	prompt  int
	target  int
	finish  string
	faults  requestFaults
	text    *outputText
	seq     *seq
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	s.abortIfCrashed()
	n := s.arrivals.Add(1)
	f := &s.cfg.Faults
	if f.CrashAfterRequests > 0 && n > uint64(f.CrashAfterRequests) {
		s.crash(n)
		panic(http.ErrAbortHandler)
	}
	if s.starting() {
		writeAPIError(w, unavailable("simulated engine is starting (slow-start fault)"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeAPIError(w, &apiError{Status: http.StatusRequestEntityTooLarge, Type: "BadRequestError", Code: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("request body larger than %d bytes", mbe.Limit)})
			return
		}
		writeAPIError(w, badRequest("", "read request body: %v", err))
		return
	}
	job, apiErr := s.prepare(body, n)
	if apiErr != nil {
		s.log.Debug().Uint64("request", n).Int("status", apiErr.Status).Str("error", apiErr.Message).Msg("chat request rejected")
		writeAPIError(w, apiErr)
		return
	}
	if job.faults.serverError {
		s.faults.serverErrors.Add(1)
		writeAPIError(w, &apiError{Status: http.StatusInternalServerError, Type: "InternalServerError", Code: http.StatusInternalServerError,
			Message: "simulated server error (fault injection)"})
		return
	}
	s.eng.submit(job.seq)
	if job.req.Stream {
		s.streamChat(w, r, job)
	} else {
		s.completeChat(w, r, job)
	}
}

// prepare decodes the request, counts and hashes the prompt, and decides the
// output: its length, its text and the faults that hit it.
func (s *Server) prepare(body []byte, n uint64) (*chatJob, *apiError) {
	p := &s.cfg.Profile
	req, apiErr := decodeChatRequest(body, p)
	if apiErr != nil {
		return nil, apiErr
	}
	prompt, hashes, whole := hashPrompt(req.Messages, p.BlockSize, req.CacheSalt)
	maxT, minT, apiErr := req.lengths(prompt, p)
	if apiErr != nil {
		return nil, apiErr
	}
	seed := uint64(s.cfg.Seed)
	rf := s.cfg.Faults.decide(newRNG(mix(seed, 0x6661756c74, n))) // "fault"
	// The text depends on the prompt, not on arrival order: the same prompt
	// gets the same answer, as with greedy decoding.
	text := &outputText{r: newRNG(mix(seed, whole))}
	natural := 0
	if s.cfg.Accuracy != nil {
		if i := s.cfg.Accuracy.match(lastUserText(req.Messages)); i >= 0 {
			wrong := s.cfg.Accuracy.wrong(i, s.cfg.Seed, s.cfg.AccuracyErrorRate)
			text.fixed = pieces(s.cfg.Accuracy.response(i, wrong, s.cfg.Seed))
			natural = len(text.fixed)
			s.faults.oracle.Add(1)
		}
	}
	if natural == 0 {
		natural = text.r.expTokens(p.Output.NaturalMeanTokens)
	}
	target, finish := outputLength(req.IgnoreEOS, maxT, minT, natural, rf)
	if rf.ignoreMinTokens {
		s.faults.ignoredMin.Add(1)
	}
	job := &chatJob{
		req:     req,
		id:      fmt.Sprintf("chatcmpl-%016x%016x", mix(seed, n, 1), mix(seed, n, 2)),
		created: time.Now().Unix(),
		prompt:  prompt,
		target:  target,
		finish:  finish,
		faults:  rf,
		text:    text,
	}
	job.seq = &seq{hashes: hashes, promptLen: prompt, target: target, out: newStream()}
	return job, nil
}

// lastUserText is the text of the last user message ("" if none).
func lastUserText(msgs []Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role != "user" {
			continue
		}
		m := &msgs[i]
		if m.Parts == nil {
			return m.Content
		}
		var b strings.Builder
		b.WriteString(m.Content)
		for _, p := range m.Parts {
			b.WriteByte(' ')
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return ""
}

// wait blocks until the engine signals the job, the client goes away or the
// server halts. It returns false when the handler must return.
func (s *Server) wait(ctx context.Context, job *chatJob) (ok bool, stopped bool) {
	select {
	case <-job.seq.out.notify:
		return true, false
	case <-ctx.Done():
		s.eng.abort(job.seq)
		return false, false
	case <-s.halt:
		s.abortIfCrashed()
		return false, true
	}
}

// sleep waits d unless the client leaves or the server halts.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.halt:
		s.abortIfCrashed()
		return false
	}
}

func engineError(err error) *apiError {
	if errors.Is(err, ErrStopped) {
		return unavailable("simulated engine stopped")
	}
	return &apiError{Status: http.StatusInternalServerError, Type: "InternalServerError", Code: http.StatusInternalServerError, Message: err.Error()}
}

func midStreamError() *apiError {
	return &apiError{Status: http.StatusInternalServerError, Type: "InternalServerError", Code: http.StatusInternalServerError,
		Message: "simulated mid-stream engine error (fault injection)"}
}

// streamChat writes the SSE response as the engine produces tokens: the role
// chunk with the first token, content chunks of TokensPerChunk tokens (the
// last one carries finish_reason), the usage chunk if asked, data: [DONE].
func (s *Server) streamChat(w http.ResponseWriter, r *http.Request, job *chatJob) {
	ctx := r.Context()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	so := job.req.StreamOptions
	includeUsage := so != nil && so.IncludeUsage
	sw := newSSEWriter(w, job.id, job.created, s.cfg.Profile.ServedModel, job.prompt, includeUsage && so.ContinuousUsageStats)
	// Headers go out at once, as with vLLM; the first event follows with the
	// first token.
	if sw.fl != nil {
		sw.fl.Flush()
	}
	k := s.cfg.TokensPerChunk
	errAt, stallAt := -1, -1
	if job.faults.midStream {
		errAt = position(job.faults.midStreamFrac, job.target)
	}
	if job.faults.stall {
		stallAt = position(job.faults.stallFrac, job.target)
	}
	sent, roleSent := 0, false
	for {
		ok, stopped := s.wait(ctx, job)
		if stopped {
			sw.errorEvent(engineError(ErrStopped))
			sw.done()
			_ = sw.flush()
			return
		}
		if !ok {
			return
		}
		produced, finished, err := job.seq.out.snapshot()
		for sent < produced {
			if !roleSent {
				sw.role()
				roleSent = true
			}
			n := min(k, produced-sent)
			last := finished && err == nil && sent+n == produced
			if n < k && !last {
				break // wait for a full chunk
			}
			if errAt >= 0 && sent+n > errAt {
				// The fault strikes inside this chunk: it is never sent.
				s.faults.midStream.Add(1)
				s.eng.abort(job.seq)
				sw.errorEvent(midStreamError())
				sw.done()
				_ = sw.flush()
				return
			}
			if stallAt >= 0 && sent+n > stallAt {
				stallAt = -1
				s.faults.stalls.Add(1)
				_ = sw.flush()
				if !s.sleep(ctx, s.cfg.Faults.StallFor) {
					s.eng.abort(job.seq)
					return
				}
			}
			sw.contentStart()
			for range n {
				sw.appendText(job.text.next())
			}
			finish := ""
			if last {
				finish = job.finish
			}
			sent += n
			sw.contentEnd(finish, sent)
		}
		if finished {
			if err != nil {
				sw.errorEvent(engineError(err))
			} else if includeUsage {
				cached := -1
				if !s.cfg.OmitCachedTokens {
					cached = job.seq.out.cachedTokens()
				}
				sw.usage(sent, cached)
			}
			sw.done()
			_ = sw.flush()
			return
		}
		if sw.flush() != nil {
			s.eng.abort(job.seq)
			return
		}
	}
}

// chatCompletion is the non-streaming response body.
type chatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   usageJSON    `json:"usage"`
}

type chatChoice struct {
	Index        int         `json:"index"`
	Message      chatMessage `json:"message"`
	Logprobs     any         `json:"logprobs"`
	FinishReason string      `json:"finish_reason"`
	StopReason   any         `json:"stop_reason"`
}

type chatMessage struct {
	Role      string `json:"role"`
	Content   string `json:"content"`
	ToolCalls []any  `json:"tool_calls"`
}

type usageJSON struct {
	PromptTokens        int                 `json:"prompt_tokens"`
	TotalTokens         int                 `json:"total_tokens"`
	CompletionTokens    int                 `json:"completion_tokens"`
	PromptTokensDetails *promptTokenDetails `json:"prompt_tokens_details,omitempty"`
}

type promptTokenDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// completeChat waits for the whole output and answers with a chat.completion.
func (s *Server) completeChat(w http.ResponseWriter, r *http.Request, job *chatJob) {
	ctx := r.Context()
	for {
		ok, stopped := s.wait(ctx, job)
		if stopped {
			writeAPIError(w, engineError(ErrStopped))
			return
		}
		if !ok {
			return
		}
		if _, finished, _ := job.seq.out.snapshot(); finished {
			break
		}
	}
	produced, _, err := job.seq.out.snapshot()
	if err != nil {
		writeAPIError(w, engineError(err))
		return
	}
	if job.faults.stall {
		s.faults.stalls.Add(1)
		if !s.sleep(ctx, s.cfg.Faults.StallFor) {
			return
		}
	}
	if job.faults.midStream {
		s.faults.midStream.Add(1)
		writeAPIError(w, midStreamError())
		return
	}
	var b strings.Builder
	for range produced {
		b.WriteString(job.text.next())
	}
	u := usageJSON{PromptTokens: job.prompt, CompletionTokens: produced, TotalTokens: job.prompt + produced}
	if !s.cfg.OmitCachedTokens {
		u.PromptTokensDetails = &promptTokenDetails{CachedTokens: job.seq.out.cachedTokens()}
	}
	writeJSON(w, http.StatusOK, chatCompletion{
		ID: job.id, Object: "chat.completion", Created: job.created, Model: s.cfg.Profile.ServedModel,
		Choices: []chatChoice{{Message: chatMessage{Role: "assistant", Content: b.String(), ToolCalls: []any{}}, FinishReason: job.finish}},
		Usage:   u,
	})
}
