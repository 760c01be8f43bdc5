package accuracy

import (
	"github.com/agentwatt/agentwatt/bundle"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

// Prompt is what each question is asked with: the question, then the answer
// format GSM8K's references use.
const Prompt = "Solve the following math problem step by step. Give the final answer on its own last line as \"#### <number>\".\n\nQuestion: %s"

// Config says where and how the questions are asked. Temperature and TopP
// come from the rules' sampling section (greedy), MaxTokens from
// accuracy.max_output_tokens.
type Config struct {
	Endpoint    string // the engine's base URL, e.g. http://127.0.0.1:8000
	Model       string
	MaxTokens   int
	Temperature float64
	TopP        float64
	// Concurrency is how many questions are in flight at once (default 4);
	// records are written in question order whatever it is.
	Concurrency int
	// Timeout bounds one question (default 10m).
	Timeout time.Duration
	Client  *http.Client
}

// Record is one line of accuracy.jsonl (its schema is package bundle's).
type Record = bundle.AccuracyRecord

// Result is the phase's score, a claim the verifier recomputes from
// accuracy.jsonl.
type Result = bundle.AccuracyResult

// ErrRequests is returned when some questions could not be asked (their
// records carry the error); the phase then failed, whatever the score.
var ErrRequests = errors.New("accuracy requests failed")

// Run asks every question of qs, writes one Record per question to w (JSON
// lines, in order) and returns the score. A question whose request fails is
// recorded with its error and counted in Errors; Run then returns
// ErrRequests with the result.
func Run(ctx context.Context, cfg Config, qs []Question, w io.Writer) (Result, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	recs := make([]Record, len(qs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.Concurrency)
	for i, q := range qs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			recs[i] = ask(ctx, cfg, q)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	res := Result{Dataset: Dataset, Questions: len(qs)}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		if r.Error != "" {
			res.Errors++
		}
		if r.Correct {
			res.Correct++
		}
		if err := enc.Encode(r); err != nil {
			return res, fmt.Errorf("write accuracy record: %w", err)
		}
	}
	res.Score = metrics.AccuracyScore(res.Correct, res.Questions)
	if res.Errors > 0 {
		return res, fmt.Errorf("%w: %d of %d questions", ErrRequests, res.Errors, res.Questions)
	}
	return res, nil
}

// ask sends one question as a non-streaming chat completion.
func ask(ctx context.Context, cfg Config, q Question) Record {
	rec := Record{ID: q.ID, Prompt: fmt.Sprintf(Prompt, q.Question), Expected: q.Expected}
	body, _ := json.Marshal(map[string]any{
		"model":       cfg.Model,
		"messages":    []map[string]string{{"role": "user", "content": rec.Prompt}},
		"temperature": cfg.Temperature,
		"top_p":       cfg.TopP,
		"max_tokens":  cfg.MaxTokens,
		"stream":      false,
	})
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	start := time.Now()
	defer func() { rec.LatencyS = time.Since(start).Seconds() }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(cfg.Endpoint, "/")+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := cfg.Client.Do(req)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	if resp.StatusCode != http.StatusOK {
		rec.Error = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b[:min(len(b), 200)])))
		return rec
	}
	var out struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Choices) == 0 {
		rec.Error = fmt.Sprintf("not a chat completion: %.200s", b)
		return rec
	}
	rec.Output = out.Choices[0].Message.Content
	rec.CompletionTokens = out.Usage.CompletionTokens
	rec.Extracted, _ = metrics.ExtractGSM8KAnswer(rec.Output)
	rec.Correct = metrics.GSM8KCorrect(rec.Output, q.Expected)
	return rec
}
