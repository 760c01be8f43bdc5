package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFaultsValidate(t *testing.T) {
	tests := []struct {
		name  string
		f     Faults
		field string
	}{
		{"rate above 1", Faults{MidStreamErrorRate: 1.5}, "Faults.MidStreamErrorRate"},
		{"negative rate", Faults{ServerErrorRate: -0.1}, "Faults.ServerErrorRate"},
		{"stall without duration", Faults{StallRate: 0.5}, "Faults.StallFor"},
		{"negative duration", Faults{SlowStart: -time.Second}, "Faults.SlowStart"},
		{"negative crash count", Faults{CrashAfterRequests: -1}, "Faults.CrashAfterRequests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.Validate(); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Validate = %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
		})
	}
	if err := (&Faults{MidStreamErrorRate: 1, StallRate: 0.1, StallFor: time.Second}).Validate(); err != nil {
		t.Errorf("valid faults: %v", err)
	}
}

// Config.Validate names the field and fills nothing; NewServer fills the
// defaults after it.
func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name  string
		mut   func(*Config)
		field string
	}{
		{"defaults", func(c *Config) { c.TimeScale = 0 }, ""},
		{"negative time scale", func(c *Config) { c.TimeScale = -1 }, "TimeScale"},
		{"negative tokens per chunk", func(c *Config) { c.TokensPerChunk = -1 }, "TokensPerChunk"},
		{"negative keep-alive", func(c *Config) { c.KeepAliveTimeout = -time.Second }, "KeepAliveTimeout"},
		{"error rate above 1", func(c *Config) { c.AccuracyErrorRate = 2 }, "AccuracyErrorRate"},
		{"bad fault", func(c *Config) { c.Faults.StallRate = 2 }, "Faults.StallRate"},
		{"bad profile", func(c *Config) { c.Profile.ServedModel = "" }, "served_model"},
	} {
		cfg := tinyConfig(t, tt.mut)
		err := cfg.Validate()
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
		case tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field)):
			t.Errorf("%s: Validate() = %v, want an error naming %s", tt.name, err, tt.field)
		}
	}
	cfg := tinyConfig(t, func(c *Config) { c.TimeScale = 0 })
	if d := cfg.withDefaults(); d.TimeScale != 1 || d.TokensPerChunk != 1 || d.KeepAliveTimeout != DefaultKeepAliveTimeout {
		t.Errorf("withDefaults: %+v", d)
	}
}

func TestFaultMidStreamError(t *testing.T) {
	srv, url := startSim(t, tinyConfig(t, func(c *Config) { c.Faults.MidStreamErrorRate = 1 }))
	c := testClient(t)
	for i := range 5 {
		events := streamChat(t, url, c, chatReq(true, fmt.Sprintf("q%d", i), map[string]any{"max_tokens": 20, "min_tokens": 20, "ignore_eos": true}))
		s := summarize(t, events)
		if !s.roleFirst || s.err == "" || !s.done || s.usage != nil || s.finish != "" || CountTokens(s.text) >= 20 {
			t.Errorf("request %d: role %v, error %q, done %v, usage %v, finish %q, %d tokens; want a truncated stream ending in an error event and [DONE]",
				i, s.roleFirst, s.err, s.done, s.usage != nil, s.finish, CountTokens(s.text))
		}
	}
	status, ch := complete(t, c, url, chatReq(false, "q", map[string]any{"max_tokens": 5}))
	if status != http.StatusInternalServerError || ch.Error == nil {
		t.Errorf("non-streaming: HTTP %d, %+v; want 500 with an error", status, ch)
	}
	if got := srv.Stats().Faults.MidStreamErrors; got != 6 {
		t.Errorf("mid-stream errors counted %d, want 6", got)
	}
}

// With several tokens per chunk the error still comes before the output is
// complete.
func TestFaultMidStreamErrorWithChunks(t *testing.T) {
	_, url := startSim(t, tinyConfig(t, func(c *Config) { c.Faults.MidStreamErrorRate, c.TokensPerChunk = 1, 4 }))
	c := testClient(t)
	for i := range 20 {
		s := summarize(t, streamChat(t, url, c, chatReq(true, fmt.Sprintf("c%d", i), map[string]any{"max_tokens": 6, "min_tokens": 6, "ignore_eos": true})))
		if s.err == "" || s.finish != "" || CountTokens(s.text) >= 6 {
			t.Errorf("request %d: error %q, finish %q, %d tokens; want an error before the end", i, s.err, s.finish, CountTokens(s.text))
		}
	}
}

func TestFaultServerError(t *testing.T) {
	for _, rate := range []float64{0, 1} {
		_, url := startSim(t, tinyConfig(t, func(c *Config) { c.Faults.ServerErrorRate = rate }))
		resp := post(t, testClient(t), url, chatReq(true, "x", map[string]any{"max_tokens": 3}))
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := http.StatusOK
		if rate == 1 {
			want = http.StatusInternalServerError
		}
		if resp.StatusCode != want {
			t.Errorf("rate %g: HTTP %d (%s), want %d", rate, resp.StatusCode, b, want)
		}
		if rate == 1 {
			var e errorBody
			if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != 500 || e.Error.Message == "" {
				t.Errorf("500 body %s: want {\"error\":{…}}", b)
			}
		}
	}
}

// Rates in between hit about that share of requests, reproducibly.
func TestFaultRateIsSeeded(t *testing.T) {
	count := func(seed int64) int {
		_, url := startSim(t, tinyConfig(t, func(c *Config) { c.Seed, c.Faults.ServerErrorRate = seed, 0.3 }))
		c := testClient(t)
		n := 0
		for i := range 100 {
			status, _ := complete(t, c, url, chatReq(false, fmt.Sprint(i), map[string]any{"max_tokens": 1}))
			if status == http.StatusInternalServerError {
				n++
			}
		}
		return n
	}
	a, b := count(5), count(5)
	if a != b {
		t.Errorf("same seed and arrival order: %d vs %d errors", a, b)
	}
	if a < 15 || a > 45 {
		t.Errorf("%d errors in 100 requests at rate 0.3", a)
	}
}

func TestFaultStall(t *testing.T) {
	const stall = 300 * time.Millisecond
	srv, url := startSim(t, tinyConfig(t, func(c *Config) { c.Faults.StallRate, c.Faults.StallFor = 1, stall }))
	resp := post(t, testClient(t), url, chatReq(true, "x", map[string]any{"max_tokens": 30, "min_tokens": 30, "ignore_eos": true}))
	defer resp.Body.Close()
	// Time the gaps between reads of the stream.
	buf := make([]byte, 64<<10)
	var maxGap time.Duration
	var body []byte
	last := time.Now()
	for {
		n, err := resp.Body.Read(buf)
		now := time.Now()
		if n > 0 {
			if len(body) > 0 {
				maxGap = max(maxGap, now.Sub(last))
			}
			body = append(body, buf[:n]...)
			last = now
		}
		if err != nil {
			break
		}
	}
	if maxGap < stall*9/10 {
		t.Errorf("longest gap in the stream %v, want at least the stall %v", maxGap, stall)
	}
	if got := srv.Stats().Faults.Stalls; got != 1 {
		t.Errorf("stalls counted %d, want 1", got)
	}
}

func TestFaultIgnoreMinTokens(t *testing.T) {
	srv, url := startSim(t, tinyConfig(t, func(c *Config) { c.Faults.IgnoreMinTokensRate = 1 }))
	c := testClient(t)
	for i := range 10 {
		s := summarize(t, streamChat(t, url, c, chatReq(true, fmt.Sprint(i), map[string]any{"max_tokens": 50, "min_tokens": 50, "ignore_eos": true})))
		if s.usage == nil || s.usage.CompletionTokens >= 50 || s.usage.CompletionTokens < 1 || s.finish != "stop" || !s.done {
			t.Errorf("request %d: usage %+v, finish %q; want fewer than 50 tokens, finish stop", i, s.usage, s.finish)
		}
	}
	if got := srv.Stats().Faults.IgnoredMinTokens; got != 10 {
		t.Errorf("counted %d, want 10", got)
	}
}

func TestFaultSlowStart(t *testing.T) {
	_, url := startSim(t, tinyConfig(t, func(c *Config) { c.Faults.SlowStart = 300 * time.Millisecond }))
	c := testClient(t)
	health := func() int {
		resp, err := c.Get(url + "/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := health(); got != http.StatusServiceUnavailable {
		t.Fatalf("/health during slow start: %d, want 503", got)
	}
	if status, _ := complete(t, c, url, chatReq(false, "x", map[string]any{"max_tokens": 1})); status != http.StatusServiceUnavailable {
		t.Errorf("chat during slow start: %d, want 503", status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for health() != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/health never became 200")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFaultCrash(t *testing.T) {
	srv, url := startSim(t, tinyConfig(t, func(c *Config) { c.TimeScale, c.Faults.CrashAfterRequests = 1, 2 }))
	c := testClient(t)
	if status, _ := complete(t, c, url, chatReq(false, "one", map[string]any{"max_tokens": 2})); status != http.StatusOK {
		t.Fatalf("request 1: HTTP %d", status)
	}
	// Request 2 streams while request 3 crashes the engine.
	resp := post(t, c, url, chatReq(true, "two", map[string]any{"max_tokens": 5000, "min_tokens": 5000, "ignore_eos": true}))
	defer resp.Body.Close()
	buf := make([]byte, 256)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var streamErr error
	go func() {
		defer wg.Done()
		_, streamErr = io.ReadAll(resp.Body)
	}()
	c3 := testClient(t)
	if resp3, err := c3.Post(url+"/v1/chat/completions", "application/json", nil); err == nil {
		resp3.Body.Close()
		t.Errorf("request 3 got HTTP %d, want a dropped connection", resp3.StatusCode)
	}
	select {
	case <-srv.Crashed():
	case <-time.After(5 * time.Second):
		t.Fatal("Crashed() not closed")
	}
	if !errors.Is(srv.Err(), ErrCrashed) {
		t.Errorf("Err() = %v, want ErrCrashed", srv.Err())
	}
	wg.Wait()
	if streamErr == nil {
		t.Error("the in-flight stream ended cleanly; a crash must cut it")
	}
	if _, err := testClient(t).Get(url + "/health"); err == nil {
		t.Error("/health answered after the crash")
	}
}

func TestFaultEnergyResetAndPowerGap(t *testing.T) {
	_, url := startSim(t, tinyConfig(t, func(c *Config) {
		c.Faults.EnergyResetAfter = 300 * time.Millisecond
		c.Faults.PowerGapAfter, c.Faults.PowerGapFor = 400*time.Millisecond, 300*time.Millisecond
	}))
	c := testClient(t)
	type sample struct {
		status int
		energy uint64
	}
	var samples []sample
	start := time.Now()
	for time.Since(start) < time.Second {
		resp, err := c.Get(url + "/sim/v1/power")
		if err != nil {
			t.Fatal(err)
		}
		var r PowerReading
		_ = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		samples = append(samples, sample{resp.StatusCode, r.Total.EnergyMJ})
		time.Sleep(10 * time.Millisecond)
	}
	resets, gaps := 0, 0
	var prev *sample
	for i := range samples {
		s := &samples[i]
		if s.status != http.StatusOK {
			if s.status != http.StatusServiceUnavailable {
				t.Fatalf("sample %d: HTTP %d", i, s.status)
			}
			gaps++
			continue
		}
		if prev != nil && s.energy < prev.energy {
			resets++
		}
		prev = s
	}
	if resets != 1 {
		t.Errorf("%d counter decreases, want exactly 1", resets)
	}
	if gaps < 10 {
		t.Errorf("%d samples refused during the gap, want about 30", gaps)
	}
	if samples[len(samples)-1].status != http.StatusOK {
		t.Errorf("power still refused after the gap")
	}
}
