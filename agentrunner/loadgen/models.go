package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ModelInfo is one model a server's /v1/models lists.
type ModelInfo struct {
	ID string
	// ContextLength is the longest sequence, prompt plus output, the server
	// accepts for this model, in tokens, when the listing reports it; 0
	// when it does not. ContextField names the field it came from.
	ContextLength int
	ContextField  string
	// MaxSequences is how many sequences the server runs at once for this
	// model, when the listing reports it (vLLM's max_num_seqs, SGLang's
	// max_running_requests, TGI's max_concurrent_requests); 0 when it does
	// not. SequencesField names the field it came from. A search never
	// probes more agents than this (package replay).
	MaxSequences   int
	SequencesField string
}

// ContextFields are the /v1/models fields read as a model's context length,
// in order of preference: vLLM, SGLang and the simulated engine report
// max_model_len; other OpenAI-compatible servers use the others.
var ContextFields = []string{"max_model_len", "context_length", "max_context_length", "context_window"}

// SequenceFields are the /v1/models fields read as a model's concurrent
// sequence limit, in order of preference: the engine arguments' names
// (vLLM max_num_seqs, SGLang max_running_requests, TGI
// max_concurrent_requests). The simulated engine reports max_num_seqs.
var SequenceFields = []string{"max_num_seqs", "max_running_requests", "max_concurrent_requests"}

// DiscoverModel asks an OpenAI-compatible server which model it serves
// (GET /v1/models). The server must list exactly one; otherwise the caller
// must name the model (ErrNoModel, ErrAmbiguousModel).
func DiscoverModel(ctx context.Context, endpoint string) (string, error) {
	return discoverModel(ctx, &http.Client{Transport: NewTransport(ClientConfig{})}, baseURL(endpoint), "")
}

// ListModels returns the models a server's /v1/models lists, each with its
// context length when reported. apiKey is sent as a bearer token when set.
func ListModels(ctx context.Context, endpoint, apiKey string) ([]ModelInfo, error) {
	hc := &http.Client{Transport: NewTransport(ClientConfig{})}
	defer hc.CloseIdleConnections()
	return listModels(ctx, hc, baseURL(endpoint), apiKey)
}

func discoverModel(ctx context.Context, hc *http.Client, base, apiKey string) (string, error) {
	list, err := listModels(ctx, hc, base, apiKey)
	if err != nil {
		return "", fmt.Errorf("discover model: %w", err)
	}
	url := base + "/v1/models"
	switch len(list) {
	case 0:
		return "", fmt.Errorf("discover model: %s: %w", url, ErrNoModel)
	case 1:
		return list[0].ID, nil
	}
	ids := make([]string, len(list))
	for i, m := range list {
		ids[i] = m.ID
	}
	return "", fmt.Errorf("discover model: %s: %w (%s); name one", url, ErrAmbiguousModel, strings.Join(ids, ", "))
}

func listModels(ctx context.Context, hc *http.Client, base, apiKey string) ([]ModelInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/models", nil)
	if err != nil {
		return nil, err
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", req.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: http %d: %s", req.URL, resp.StatusCode, boundText(strings.TrimSpace(string(body)), 200))
	}
	out, err := parseModels(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.URL, err)
	}
	return out, nil
}

// parseModels reads a /v1/models listing: each model's id, and its context
// length and sequence limit when reported as positive integers.
func parseModels(body []byte) ([]ModelInfo, error) {
	var list struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	out := make([]ModelInfo, 0, len(list.Data))
	for i, m := range list.Data {
		var info ModelInfo
		if err := json.Unmarshal(m["id"], &info.ID); err != nil || info.ID == "" {
			return nil, fmt.Errorf("data[%d]: no model id", i)
		}
		info.ContextLength, info.ContextField = positiveField(m, ContextFields)
		info.MaxSequences, info.SequencesField = positiveField(m, SequenceFields)
		out = append(out, info)
	}
	return out, nil
}

// positiveField is the first of fields that holds a positive integer, and
// its name; 0 and "" when none does.
func positiveField(m map[string]json.RawMessage, fields []string) (int, string) {
	for _, f := range fields {
		var n int
		if raw, ok := m[f]; ok && json.Unmarshal(raw, &n) == nil && n > 0 {
			return n, f
		}
	}
	return 0, ""
}
