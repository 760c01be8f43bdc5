package bots

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/agentwatt/agentwatt/queue"
)

// Client talks to the intake API of an `agentwatt server`.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8080
	Token   string // vendor or maintainer token
	HTTP    *http.Client
}

// APIError is a non-2xx answer of the intake API.
type APIError struct {
	Status   int
	Message  string
	Problems []ProblemDetail
	// RetryAfter is the server's Retry-After on a 429 answer.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	if len(e.Problems) == 0 {
		return fmt.Sprintf("server answered %d: %s", e.Status, e.Message)
	}
	lines := make([]string, 0, len(e.Problems)+1)
	lines = append(lines, fmt.Sprintf("server answered %d: %s", e.Status, e.Message))
	for _, p := range e.Problems {
		lines = append(lines, "  "+p.Text)
	}
	return strings.Join(lines, "\n")
}

// Submit posts a YAML submission. An empty trigger means DefaultTrigger.
// file, when not empty, is the path the submission was read from: its base
// name labels the server's problems (FilenameHeader).
func (c *Client) Submit(ctx context.Context, yaml []byte, trigger, file string) (*SubmitResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v1/submissions"), bytes.NewReader(yaml))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/yaml")
	if trigger != "" {
		req.Header.Set(TriggerHeader, trigger)
	}
	if file != "" {
		req.Header.Set(FilenameHeader, url.PathEscape(filepath.Base(file)))
	}
	var out SubmitResponse
	if err := c.do(req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Cancel asks the server to cancel a job of the token's vendor (any job, for
// a maintainer's token).
func (c *Client) Cancel(ctx context.Context, id string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v1/jobs/"+url.PathEscape(id)+"/cancel"), nil)
	if err != nil {
		return nil, err
	}
	var out json.RawMessage
	return out, c.do(req, &out)
}

// Job returns a job record: one of the token's vendor, or any for a
// maintainer's token.
func (c *Client) Job(ctx context.Context, id string) (*queue.Job, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v1/jobs/"+url.PathEscape(id)), nil)
	if err != nil {
		return nil, err
	}
	var out queue.Job
	if err := c.do(req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// JobsQuery selects the jobs of GET /v1/jobs. Zero fields select all.
type JobsQuery struct {
	State  queue.State
	Vendor string
	Pool   string
	Limit  int    // page size; 0 is the server's default
	Cursor string // a page's NextCursor; empty for the first page
}

// Jobs returns one page of jobs; pass its NextCursor as Cursor for the next.
func (c *Client) Jobs(ctx context.Context, q JobsQuery) (*JobsPage, error) {
	v := url.Values{}
	for k, s := range map[string]string{"state": string(q.State), "vendor": q.Vendor, "pool": q.Pool, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v1/jobs?"+v.Encode()), nil)
	if err != nil {
		return nil, err
	}
	var out JobsPage
	if err := c.do(req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) url(path string) string { return strings.TrimRight(c.BaseURL, "/") + path }

func (c *Client) do(req *http.Request, out any) error {
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var pr ProblemsResponse
		if json.Unmarshal(body, &pr) != nil || pr.Error == "" {
			pr.Error = strings.TrimSpace(string(body))
		}
		apiErr := &APIError{Status: resp.StatusCode, Message: pr.Error, Problems: pr.Problems}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			apiErr.RetryAfter = time.Duration(secs) * time.Second
		}
		return apiErr
	}
	return json.Unmarshal(body, out)
}
