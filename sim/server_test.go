package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStreamWireFormat(t *testing.T) {
	_, url := startSim(t, tinyConfig(t, nil))
	c := testClient(t)
	body := chatReq(true, "tell me a story", map[string]any{"max_tokens": 7, "min_tokens": 7, "ignore_eos": true, "temperature": 0.0, "top_p": 1.0})
	events := streamChat(t, url, c, body)
	// role chunk, 7 content chunks, usage chunk, [DONE]
	if len(events) != 10 {
		t.Fatalf("%d events, want 10: %q", len(events), events)
	}
	var id string
	for i, ev := range events[:len(events)-1] {
		ch := parseChunk(t, ev)
		if i == 0 {
			id = ch.ID
		}
		if ch.ID != id || !strings.HasPrefix(id, "chatcmpl-") {
			t.Errorf("event %d: id %q, want %q (chatcmpl-…)", i, ch.ID, id)
		}
		if ch.Object != "chat.completion.chunk" || ch.Model != "sim-tiny" || ch.Created == 0 {
			t.Errorf("event %d: object %q model %q created %d", i, ch.Object, ch.Model, ch.Created)
		}
	}
	role := parseChunk(t, events[0])
	if d := role.Choices[0].Delta; d.Role == nil || *d.Role != "assistant" || d.Content == nil || *d.Content != "" || role.Choices[0].FinishReason != nil {
		t.Errorf("first chunk %s: want role assistant with empty content and no finish reason", events[0])
	}
	for i := 1; i <= 7; i++ {
		ch := parseChunk(t, events[i])
		c := ch.Choices[0]
		if c.Delta.Role != nil || c.Delta.Content == nil || CountTokens(*c.Delta.Content) != 1 {
			t.Errorf("content chunk %d: %s: want one token of content and no role", i, events[i])
		}
		if (c.FinishReason != nil) != (i == 7) {
			t.Errorf("content chunk %d: finish_reason %v; only the last chunk carries it", i, c.FinishReason)
		}
		if !strings.Contains(events[i], `"finish_reason":`) {
			t.Errorf("content chunk %d does not carry finish_reason (null)", i)
		}
	}
	s := summarize(t, events)
	if !strings.Contains(s.usageChunk, `"choices":[]`) {
		t.Errorf("usage chunk %s has no empty choices array", s.usageChunk)
	}
	var msgs []Message
	raw, _ := json.Marshal(body["messages"])
	_ = json.Unmarshal(raw, &msgs)
	want := testUsage{PromptTokens: PromptTokens(msgs), CompletionTokens: 7, TotalTokens: PromptTokens(msgs) + 7}
	if u := s.usage; u == nil || u.PromptTokens != want.PromptTokens || u.CompletionTokens != 7 || u.TotalTokens != want.TotalTokens || u.PromptTokensDetails == nil {
		t.Errorf("usage %+v, want %+v with prompt_tokens_details", s.usage, want)
	}
	if s.finish != "length" || !s.done || CountTokens(s.text) != 7 {
		t.Errorf("finish %q, done %v, text %q; want length, true, 7 tokens", s.finish, s.done, s.text)
	}
}

func TestStreamOptions(t *testing.T) {
	tests := []struct {
		name       string
		mut        func(c *Config)
		opts       map[string]any
		wantChunks int
		wantUsage  bool
		wantCached bool
		everyUsage bool
	}{
		{"no usage", nil, map[string]any{"stream_options": nil}, 7, false, false, false},
		{"three tokens per chunk", func(c *Config) { c.TokensPerChunk = 3 }, nil, 3, true, true, false},
		{"continuous usage", nil, map[string]any{"stream_options": map[string]any{"include_usage": true, "continuous_usage_stats": true}}, 7, true, true, true},
		{"cached tokens omitted", func(c *Config) { c.OmitCachedTokens = true }, nil, 7, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, url := startSim(t, tinyConfig(t, tt.mut))
			extra := map[string]any{"max_tokens": 7, "min_tokens": 7, "ignore_eos": true}
			for k, v := range tt.opts {
				extra[k] = v
			}
			events := streamChat(t, url, testClient(t), chatReq(true, "hello", extra))
			s := summarize(t, events)
			if s.chunks != tt.wantChunks || CountTokens(s.text) != 7 || !s.roleFirst || !s.done {
				t.Errorf("chunks %d, tokens %d, role first %v, done %v; want %d, 7, true, true", s.chunks, CountTokens(s.text), s.roleFirst, s.done, tt.wantChunks)
			}
			if (s.usage != nil) != tt.wantUsage {
				t.Fatalf("usage chunk present %v, want %v", s.usage != nil, tt.wantUsage)
			}
			if s.usage != nil && (s.usage.PromptTokensDetails != nil) != tt.wantCached {
				t.Errorf("prompt_tokens_details present %v, want %v", s.usage.PromptTokensDetails != nil, tt.wantCached)
			}
			if tt.everyUsage {
				for i, ev := range events[:len(events)-1] {
					if parseChunk(t, ev).Usage == nil {
						t.Errorf("event %d has no usage with continuous_usage_stats", i)
					}
				}
			}
		})
	}
}

func TestNonStreaming(t *testing.T) {
	_, url := startSim(t, tinyConfig(t, nil))
	status, ch := complete(t, testClient(t), url, chatReq(false, "hello", map[string]any{"max_tokens": 12, "min_tokens": 12, "ignore_eos": true}))
	if status != http.StatusOK || ch.Object != "chat.completion" || len(ch.Choices) != 1 {
		t.Fatalf("HTTP %d, %+v", status, ch)
	}
	c := ch.Choices[0]
	if c.Message.Role != "assistant" || CountTokens(c.Message.Content) != 12 || c.FinishReason == nil || *c.FinishReason != "length" {
		t.Errorf("message %+v finish %v; want 12 tokens, length", c.Message, c.FinishReason)
	}
	if ch.Usage == nil || ch.Usage.CompletionTokens != 12 || ch.Usage.PromptTokensDetails == nil {
		t.Errorf("usage %+v", ch.Usage)
	}
}

// With ignore_eos and min_tokens = max_tokens the output has exactly that
// many tokens; without ignore_eos it stops on its own at or after min_tokens.
func TestOutputLength(t *testing.T) {
	_, url := startSim(t, tinyConfig(t, nil))
	c := testClient(t)
	for _, n := range []int{1, 2, 33, 200} {
		events := streamChat(t, url, c, chatReq(true, fmt.Sprintf("exact %d", n), map[string]any{"max_tokens": n, "min_tokens": n, "ignore_eos": true}))
		s := summarize(t, events)
		if s.usage == nil || s.usage.CompletionTokens != n || CountTokens(s.text) != n || s.finish != "length" {
			t.Errorf("forced %d: usage %+v, text tokens %d, finish %q", n, s.usage, CountTokens(s.text), s.finish)
		}
	}
	stops := 0
	for i := range 20 {
		_, ch := complete(t, c, url, chatReq(false, fmt.Sprintf("natural %d", i), map[string]any{"max_tokens": 300, "min_tokens": 5}))
		n := ch.Usage.CompletionTokens
		if n < 5 || n > 300 || CountTokens(ch.Choices[0].Message.Content) != n {
			t.Errorf("natural %d: %d tokens (text %d), want 5..300", i, n, CountTokens(ch.Choices[0].Message.Content))
		}
		if *ch.Choices[0].FinishReason == "stop" {
			stops++
		}
	}
	if stops == 0 {
		t.Error("no request stopped on its own without ignore_eos")
	}
	// The same prompt gives the same answer (like greedy decoding).
	_, a := complete(t, c, url, chatReq(false, "same prompt", map[string]any{"max_tokens": 50}))
	_, b := complete(t, c, url, chatReq(false, "same prompt", map[string]any{"max_tokens": 50}))
	if a.Choices[0].Message.Content != b.Choices[0].Message.Content {
		t.Errorf("same prompt, different answers: %q vs %q", a.Choices[0].Message.Content, b.Choices[0].Message.Content)
	}
}

func TestBadRequests(t *testing.T) {
	_, url := startSim(t, tinyConfig(t, nil))
	c := testClient(t)
	tests := []struct {
		name   string
		body   any
		status int
		substr string
	}{
		{"not json", "{", 400, "invalid request body"},
		{"wrong model", chatReq(false, "x", map[string]any{"model": "gpt-9"}), 404, "does not exist"},
		{"no messages", map[string]any{"model": "sim-tiny", "messages": []any{}}, 400, "messages"},
		{"bad role", map[string]any{"messages": []any{map[string]any{"role": "robot", "content": "x"}}}, 400, "role"},
		{"min above max", chatReq(false, "x", map[string]any{"max_tokens": 3, "min_tokens": 5}), 400, "min_tokens"},
		{"zero max", chatReq(false, "x", map[string]any{"max_tokens": 0}), 400, "max_tokens"},
		{"context too long", chatReq(false, "x", map[string]any{"max_tokens": 100000}), 400, "maximum context length"},
		{"stream options without stream", chatReq(false, "x", map[string]any{"stream_options": map[string]any{"include_usage": true}}), 400, "stream_options"},
		{"n=2", chatReq(false, "x", map[string]any{"n": 2}), 400, "n"},
		{"wrong type", chatReq(false, "x", map[string]any{"max_tokens": "ten"}), 400, "max_tokens"},
		{"image part", map[string]any{"messages": []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "image_url"}}}}}, 400, "image_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			if s, ok := tt.body.(string); ok {
				var err error
				resp, err = c.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(s))
				if err != nil {
					t.Fatal(err)
				}
			} else {
				resp = post(t, c, url, tt.body)
			}
			defer resp.Body.Close()
			var e struct {
				Error struct {
					Message string `json:"message"`
					Type    string `json:"type"`
					Code    int    `json:"code"`
				} `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || e.Error.Code != tt.status || e.Error.Type == "" {
				t.Errorf("HTTP %d, error %+v; want %d", resp.StatusCode, e.Error, tt.status)
			}
			if !strings.Contains(e.Error.Message, tt.substr) {
				t.Errorf("message %q does not mention %q", e.Error.Message, tt.substr)
			}
		})
	}
}

func TestModelsAndHealth(t *testing.T) {
	_, url := startSim(t, tinyConfig(t, nil))
	c := testClient(t)
	resp, err := c.Get(url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/health: HTTP %d", resp.StatusCode)
	}
	resp, err = c.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Object string `json:"object"`
		Data   []struct {
			ID         string `json:"id"`
			Simulated  bool   `json:"simulated"`
			MaxNumSeqs int    `json:"max_num_seqs"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	// The running-batch limit is reported as vLLM's argument names it, so
	// that a search is capped by it (package replay).
	if m.Object != "list" || len(m.Data) != 1 || m.Data[0].ID != "sim-tiny" || !m.Data[0].Simulated || m.Data[0].MaxNumSeqs != 32 {
		t.Errorf("/v1/models = %+v", m)
	}
}

// prompt of exactly n tokens (template included) made of unique words.
func promptOf(tag string, n int) map[string]any {
	words := make([]string, n-TemplateTokensPerRequest-TemplateTokensPerMessage)
	for i := range words {
		words[i] = fmt.Sprintf("%s%d", tag, i)
	}
	return map[string]any{"messages": []map[string]any{{"role": "user", "content": strings.Join(words, " ")}}, "max_tokens": 1}
}

// Repeated prefixes report cached tokens; the least recently used cached
// blocks are the ones evicted when the KV cache fills.
func TestPrefixCacheOverHTTP(t *testing.T) {
	cfg := tinyConfig(t, func(c *Config) {
		c.Profile.KVCapacityTokens, c.Profile.MaxModelLen, c.Profile.BlockSize = 256, 128, 16 // 16 blocks
	})
	srv, url := startSim(t, cfg)
	c := testClient(t)
	// Each 83-token prompt has 5 full blocks and holds 6 while it runs.
	steps := []struct {
		prompt string
		want   int
	}{
		{"a", 0}, {"b", 0}, {"c", 0},
		{"a", 80}, // hit; a is now the most recently used
		{"d", 0},  // needs 6 blocks: evicts b's 5 cached blocks, not a's
		{"a", 80},
		{"b", 0},
	}
	for i, st := range steps {
		status, ch := complete(t, c, url, promptOf(st.prompt, 83))
		if status != http.StatusOK || ch.Usage == nil || ch.Usage.PromptTokens != 83 {
			t.Fatalf("step %d: HTTP %d usage %+v", i, status, ch.Usage)
		}
		if got := ch.Usage.PromptTokensDetails.CachedTokens; got != st.want {
			t.Errorf("step %d (%s): cached_tokens %d, want %d", i, st.prompt, got, st.want)
		}
	}
	if st := srv.Stats(); st.Evictions < 5 || st.CachedTokens != 160 {
		t.Errorf("stats: evictions %d, cached tokens %d; want ≥ 5, 160", st.Evictions, st.CachedTokens)
	}
}

func TestPreemptionOverHTTP(t *testing.T) {
	cfg := tinyConfig(t, func(c *Config) {
		c.Profile.KVCapacityTokens, c.Profile.MaxModelLen = 256, 128
	})
	srv, url := startSim(t, cfg)
	c := testClient(t)
	var wg sync.WaitGroup
	got := make([]int, 6)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := promptOf(fmt.Sprintf("p%d-", i), 40)
			body["max_tokens"], body["min_tokens"], body["ignore_eos"] = 80, 80, true
			_, ch := complete(t, c, url, body)
			if ch.Usage != nil {
				got[i] = ch.Usage.CompletionTokens
			}
		}()
	}
	wg.Wait()
	for i, n := range got {
		if n != 80 {
			t.Errorf("request %d: %d completion tokens, want 80", i, n)
		}
	}
	if st := srv.Stats(); st.Preemptions == 0 {
		t.Errorf("no preemption: %+v", st)
	}
}

func TestClientDisconnectAbortsRequest(t *testing.T) {
	srv, url := startSim(t, tinyConfig(t, func(c *Config) { c.TimeScale = 1 }))
	resp := post(t, testClient(t), url, chatReq(true, "long", map[string]any{"max_tokens": 5000, "min_tokens": 5000, "ignore_eos": true}))
	buf := make([]byte, 512)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := srv.Stats()
		if st.Aborted == 1 && st.Running == 0 && st.KVBlocksUsed == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("request not aborted after the client left: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStopEndsStreams(t *testing.T) {
	srv, url := startSim(t, tinyConfig(t, func(c *Config) { c.TimeScale = 1 }))
	resp := post(t, testClient(t), url, chatReq(true, "long", map[string]any{"max_tokens": 5000, "min_tokens": 5000, "ignore_eos": true}))
	defer resp.Body.Close()
	go func() {
		time.Sleep(50 * time.Millisecond)
		srv.Stop()
	}()
	events, err := readSSE(t, resp.Body)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	s := summarize(t, events)
	if s.err == "" || !s.done || s.usage != nil {
		t.Errorf("after Stop: error %q, done %v, usage %v; want an error event then [DONE]", s.err, s.done, s.usage)
	}
}

// The power counters never decrease and equal the integral of the sampled
// instantaneous power within 1% under load.
func TestPowerEndpoint(t *testing.T) {
	_, url := startSim(t, tinyConfig(t, func(c *Config) { c.TimeScale = 1 }))
	c := testClient(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			streamChat(t, url, c, chatReq(true, fmt.Sprintf("load %d", i), map[string]any{"max_tokens": 60, "min_tokens": 60, "ignore_eos": true}))
		}()
	}
	read := func() PowerReading {
		resp, err := c.Get(url + "/sim/v1/power")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r PowerReading
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := read()
	if !first.Simulated || len(first.GPUs) != 1 || first.TMonoNS == 0 || first.TUnixNS == 0 || first.Clock == "" {
		t.Fatalf("reading %+v", first)
	}
	prev := first
	var integral float64 // J
	maxW, minW := 0.0, math.Inf(1)
	for range 200 {
		time.Sleep(5 * time.Millisecond)
		cur := read()
		if cur.Total.EnergyMJ < prev.Total.EnergyMJ || cur.TMonoNS <= prev.TMonoNS {
			t.Fatalf("counter or clock went back: %d → %d mJ, %d → %d ns", prev.Total.EnergyMJ, cur.Total.EnergyMJ, prev.TMonoNS, cur.TMonoNS)
		}
		integral += (prev.Total.PowerW + cur.Total.PowerW) / 2 * float64(cur.TMonoNS-prev.TMonoNS) / 1e9
		maxW, minW = max(maxW, cur.Total.PowerW), min(minW, cur.Total.PowerW)
		prev = cur
	}
	wg.Wait()
	counter := float64(prev.Total.EnergyMJ-first.Total.EnergyMJ) / 1e3
	if rel := math.Abs(counter-integral) / integral; rel > 0.01 {
		t.Errorf("counter %.3f J vs ∫P dt %.3f J: %.2f%% apart", counter, integral, rel*100)
	}
	if maxW <= minW {
		t.Errorf("power never changed under load (%.1f W)", maxW)
	}
	t.Logf("counter %.3f J, integral %.3f J, power %.1f..%.1f W", counter, integral, minW, maxW)
}

func TestStatsAndProfileEndpoints(t *testing.T) {
	_, url := startSim(t, tinyConfig(t, nil))
	c := testClient(t)
	streamChat(t, url, c, chatReq(true, "x", map[string]any{"max_tokens": 3, "min_tokens": 3, "ignore_eos": true}))
	for _, path := range []string{"/sim/v1/stats", "/sim/v1/profile"} {
		resp, err := c.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"simulated":true`) {
			t.Errorf("%s: HTTP %d %s", path, resp.StatusCode, b)
		}
	}
}

// TestFrameworkVersionSlowsSteps: the same request served by the sim
// playing framework version 2 (tiny lists it at speed 0.8) spends 1/0.8 as
// much virtual time in steps as at version 1, and the sim says which
// version it plays.
func TestFrameworkVersionSlowsSteps(t *testing.T) {
	busy := map[string]int64{}
	for _, v := range []string{"1", "2"} {
		srv, url := startSim(t, tinyConfig(t, func(c *Config) { c.FrameworkVersion = v }))
		streamChat(t, url, testClient(t), chatReq(true, "x", map[string]any{"max_tokens": 16, "min_tokens": 16, "ignore_eos": true}))
		st := srv.Stats()
		if st.FrameworkVersion != v {
			t.Errorf("stats framework_version %q, want %q", st.FrameworkVersion, v)
		}
		busy[v] = st.BusyVirtualNS
	}
	if got, want := float64(busy["2"])/float64(busy["1"]), 1/0.8; math.Abs(got-want) > 0.01 {
		t.Errorf("busy virtual time at 2 / at 1 = %.3f (%d / %d ns), want %.3f", got, busy["2"], busy["1"], want)
	}
}

func TestConfigRejectsBadFrameworkVersion(t *testing.T) {
	for _, v := range []string{"2 beta", "2\x1b[31m", strings.Repeat("9", 65)} {
		if err := tinyConfig(t, func(c *Config) { c.FrameworkVersion = v }).Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("FrameworkVersion %q: %v, want ErrInvalidConfig", v, err)
		}
	}
}
