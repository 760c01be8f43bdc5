package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// chatRequest is the subset of the OpenAI (and vLLM extension) request body
// the sim reads. Unknown fields are ignored, as vLLM does.
type chatRequest struct {
	Model               string         `json:"model"`
	Messages            []Message      `json:"messages"`
	Stream              bool           `json:"stream"`
	StreamOptions       *streamOptions `json:"stream_options"`
	MaxTokens           *int           `json:"max_tokens"`
	MaxCompletionTokens *int           `json:"max_completion_tokens"`
	MinTokens           *int           `json:"min_tokens"`
	IgnoreEOS           bool           `json:"ignore_eos"`
	Temperature         *float64       `json:"temperature"`
	TopP                *float64       `json:"top_p"`
	N                   *int           `json:"n"`
	Seed                *int64         `json:"seed"`
	CacheSalt           string         `json:"cache_salt"`
}

type streamOptions struct {
	IncludeUsage         bool `json:"include_usage"`
	ContinuousUsageStats bool `json:"continuous_usage_stats"`
}

// apiError is an OpenAI-style error, sent as {"error": {...}} with the HTTP
// status (before streaming) or as an SSE data event (mid-stream).
type apiError struct {
	Status  int
	Message string
	Type    string
	Param   string
	Code    int
}

func (e *apiError) Error() string { return e.Message }

// errorBody is the JSON form: {"error":{"message","type","param","code"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    int     `json:"code"`
}

func (e *apiError) body() errorBody {
	d := errorDetail{Message: e.Message, Type: e.Type, Code: e.Code}
	if e.Param != "" {
		d.Param = &e.Param
	}
	return errorBody{Error: d}
}

func badRequest(param, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "BadRequestError", Param: param, Code: http.StatusBadRequest,
		Message: fmt.Sprintf(format, args...)}
}

// decodeChatRequest parses and checks a request body against the profile.
func decodeChatRequest(body []byte, p *Profile) (*chatRequest, *apiError) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, badRequest(te.Field, "invalid request body: field %s: %v", te.Field, err)
		}
		return nil, badRequest("", "invalid request body: %v", err)
	}
	if req.Model != "" && req.Model != p.ServedModel {
		return nil, &apiError{Status: http.StatusNotFound, Type: "NotFoundError", Param: "model", Code: http.StatusNotFound,
			Message: fmt.Sprintf("The model `%s` does not exist.", req.Model)}
	}
	if len(req.Messages) == 0 {
		return nil, badRequest("messages", "messages: at least one message is required")
	}
	for i, m := range req.Messages {
		switch m.Role {
		case "system", "developer", "user", "assistant", "tool":
		default:
			return nil, badRequest("messages", "messages[%d].role: %q is not one of system, developer, user, assistant, tool", i, m.Role)
		}
	}
	if req.N != nil && *req.N != 1 {
		return nil, badRequest("n", "n: only n=1 is supported by the simulated engine")
	}
	if req.StreamOptions != nil && !req.Stream {
		return nil, badRequest("stream_options", "stream_options: only allowed when stream is true")
	}
	if req.MaxTokens == nil {
		req.MaxTokens = req.MaxCompletionTokens
	}
	if req.MaxTokens != nil && *req.MaxTokens < 1 {
		return nil, badRequest("max_tokens", "max_tokens: must be at least 1, got %d", *req.MaxTokens)
	}
	if req.MinTokens != nil {
		if *req.MinTokens < 0 {
			return nil, badRequest("min_tokens", "min_tokens: must be at least 0, got %d", *req.MinTokens)
		}
		if req.MaxTokens != nil && *req.MinTokens > *req.MaxTokens {
			return nil, badRequest("min_tokens", "min_tokens (%d) must be less than or equal to max_tokens (%d)", *req.MinTokens, *req.MaxTokens)
		}
	}
	if req.Temperature != nil && (*req.Temperature < 0 || *req.Temperature > 2) {
		return nil, badRequest("temperature", "temperature: must be in [0, 2], got %g", *req.Temperature)
	}
	if req.TopP != nil && (*req.TopP <= 0 || *req.TopP > 1) {
		return nil, badRequest("top_p", "top_p: must be in (0, 1], got %g", *req.TopP)
	}
	return &req, nil
}

// lengths resolves max_tokens against the context window, like vLLM: absent
// means "the rest of the window"; prompt + max_tokens beyond it is a 400.
func (req *chatRequest) lengths(promptTokens int, p *Profile) (maxTokens, minTokens int, e *apiError) {
	if req.MaxTokens == nil {
		maxTokens = p.MaxModelLen - promptTokens
	} else {
		maxTokens = *req.MaxTokens
	}
	if promptTokens >= p.MaxModelLen || maxTokens < 1 || promptTokens+maxTokens > p.MaxModelLen {
		return 0, 0, badRequest("messages", "This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion). Please reduce the length of the messages or completion.",
			p.MaxModelLen, promptTokens+max(maxTokens, 0), promptTokens, max(maxTokens, 0))
	}
	if req.MinTokens != nil {
		minTokens = *req.MinTokens
	}
	if minTokens > maxTokens {
		return 0, 0, badRequest("min_tokens", "min_tokens (%d) must be less than or equal to max_tokens (%d)", minTokens, maxTokens)
	}
	return maxTokens, minTokens, nil
}
