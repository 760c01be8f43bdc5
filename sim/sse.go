package sim

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/agentwatt/agentwatt/metrics"
)

// sseWriter encodes vLLM-shaped chat.completion.chunk events into a buffer
// and writes them on flush. Chunks are built by appending bytes (no JSON
// encoder on the hot path); the field order follows vLLM's output.
type sseWriter struct {
	w          http.ResponseWriter
	fl         http.Flusher
	buf        []byte
	prefix     []byte // `data: {"id":…,"object":…,"created":…,"model":…,"choices":[`
	prompt     int
	continuous bool // usage on every chunk (stream_options.continuous_usage_stats)
}

func newSSEWriter(w http.ResponseWriter, id string, created int64, model string, prompt int, continuous bool) *sseWriter {
	fl, _ := w.(http.Flusher)
	p := make([]byte, 0, 128+len(id)+len(model))
	p = append(p, `data: {"id":`...)
	p = appendJSONString(p, id)
	p = append(p, `,"object":"chat.completion.chunk","created":`...)
	p = strconv.AppendInt(p, created, 10)
	p = append(p, `,"model":`...)
	p = appendJSONString(p, model)
	p = append(p, `,"choices":[`...)
	return &sseWriter{w: w, fl: fl, buf: make([]byte, 0, 4096), prefix: p, prompt: prompt, continuous: continuous}
}

// role writes the first chunk: {"role":"assistant","content":""}, as vLLM does.
func (s *sseWriter) role() {
	s.buf = append(s.buf, s.prefix...)
	s.buf = append(s.buf, `{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]`...)
	if s.continuous {
		s.buf = s.appendUsage(s.buf, 0, -1)
	}
	s.buf = append(s.buf, "}\n\n"...)
}

// contentStart opens a content chunk; appendText adds token texts to it;
// contentEnd closes it with finish_reason (empty: null).
func (s *sseWriter) contentStart() {
	s.buf = append(s.buf, s.prefix...)
	s.buf = append(s.buf, `{"index":0,"delta":{"content":"`...)
}

func (s *sseWriter) appendText(t string) { s.buf = metrics.AppendJSONString(s.buf, t, false) }

func (s *sseWriter) contentEnd(finish string, completion int) {
	s.buf = append(s.buf, `"},"logprobs":null,"finish_reason":`...)
	if finish == "" {
		s.buf = append(s.buf, `null}]`...)
	} else {
		s.buf = append(s.buf, '"')
		s.buf = append(s.buf, finish...)
		s.buf = append(s.buf, `","stop_reason":null}]`...)
	}
	if s.continuous {
		s.buf = s.appendUsage(s.buf, completion, -1)
	}
	s.buf = append(s.buf, "}\n\n"...)
}

// usage writes the final chunk: "choices":[] and the usage object. cached < 0
// leaves prompt_tokens_details out.
func (s *sseWriter) usage(completion, cached int) {
	s.buf = append(s.buf, s.prefix...)
	s.buf = append(s.buf, ']')
	s.buf = s.appendUsage(s.buf, completion, cached)
	s.buf = append(s.buf, "}\n\n"...)
}

func (s *sseWriter) appendUsage(b []byte, completion, cached int) []byte {
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(s.prompt), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(s.prompt+completion), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(completion), 10)
	if cached >= 0 {
		b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
		b = strconv.AppendInt(b, int64(cached), 10)
		b = append(b, '}')
	}
	return append(b, '}')
}

// errorEvent writes data: {"error": …} (HTTP 200 is already sent).
func (s *sseWriter) errorEvent(e *apiError) {
	j, _ := json.Marshal(e.body())
	s.buf = append(s.buf, "data: "...)
	s.buf = append(s.buf, j...)
	s.buf = append(s.buf, "\n\n"...)
}

func (s *sseWriter) done() { s.buf = append(s.buf, "data: [DONE]\n\n"...) }

// flush writes what is buffered and pushes it to the client.
func (s *sseWriter) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	_, err := s.w.Write(s.buf)
	s.buf = s.buf[:0]
	if s.fl != nil {
		s.fl.Flush()
	}
	return err
}

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = metrics.AppendJSONString(b, s, false)
	return append(b, '"')
}
