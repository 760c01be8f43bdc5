package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// DiscoverModel asks an OpenAI-compatible server which model it serves
// (GET /v1/models). The server must list exactly one; otherwise the caller
// must name the model (ErrNoModel, ErrAmbiguousModel).
func DiscoverModel(ctx context.Context, endpoint string) (string, error) {
	return discoverModel(ctx, &http.Client{Transport: NewTransport(ClientConfig{})}, baseURL(endpoint), "")
}

func discoverModel(ctx context.Context, hc *http.Client, base, apiKey string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/models", nil)
	if err != nil {
		return "", fmt.Errorf("discover model: %w", err)
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("discover model: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", fmt.Errorf("discover model: read %s: %w", req.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discover model: %s: http %d: %s", req.URL, resp.StatusCode, boundText(strings.TrimSpace(string(body)), 200))
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return "", fmt.Errorf("discover model: %s: %w", req.URL, err)
	}
	switch len(list.Data) {
	case 0:
		return "", fmt.Errorf("discover model: %s: %w", req.URL, ErrNoModel)
	case 1:
		return list.Data[0].ID, nil
	}
	ids := make([]string, len(list.Data))
	for i, m := range list.Data {
		ids[i] = m.ID
	}
	return "", fmt.Errorf("discover model: %s: %w (%s); name one", req.URL, ErrAmbiguousModel, strings.Join(ids, ", "))
}
