package bundle

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func linesOf(s string) func() ([]byte, error) {
	lr := NewLineReader(strings.NewReader(s), maxEngineMetricsLine)
	return lr.Next
}

func TestEngineMetricsRoundTrip(t *testing.T) {
	in := []EngineMetricsLine{
		{Probe: 1, At: ScrapeStart, TMonoNs: 5, Counters: map[string]float64{"vllm:spec_decode_num_draft_tokens_total": 30}},
		{Probe: 1, At: ScrapeEnd, TMonoNs: 9, Err: "engine metrics: HTTP 404"},
	}
	var b []byte
	for i := range in {
		var err error
		if b, err = AppendEngineMetricsLine(b, &in[i]); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadEngineMetrics(linesOf(string(b)))
	if err != nil || len(got) != 2 || got[0].Counters["vllm:spec_decode_num_draft_tokens_total"] != 30 || got[1].Err == "" {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestEngineMetricsMalformed(t *testing.T) {
	tests := []struct{ name, line string }{
		{"not json", "{probe"},
		{"bad at", `{"probe":1,"at":"middle","t_mono_ns":1}`},
		{"unknown field", `{"probe":1,"at":"start","t_mono_ns":1,"acceptance":0.99}`},
		{"negative counter", `{"probe":1,"at":"start","t_mono_ns":1,"counters":{"x":-1}}`},
		{"negative probe", `{"probe":-1,"at":"end","t_mono_ns":1}`},
		{"trailing", `{"probe":1,"at":"end","t_mono_ns":1} {}`},
		{"string counter", `{"probe":1,"at":"end","t_mono_ns":1,"counters":{"x":"7"}}`},
	}
	for _, tt := range tests {
		_, err := ReadEngineMetrics(linesOf(`{"probe":0,"at":"start","t_mono_ns":0}` + "\n" + tt.line + "\n"))
		if !errors.Is(err, ErrBadEngineMetrics) || !strings.Contains(err.Error(), EngineMetricsFile+":2:") {
			t.Errorf("%s: err %v, want ErrBadEngineMetrics at %s:2", tt.name, err, EngineMetricsFile)
		}
	}
}

func FuzzReadEngineMetrics(f *testing.F) {
	f.Add([]byte(`{"probe":1,"at":"start","t_mono_ns":1,"counters":{"vllm:spec_decode_num_draft_tokens_total":3}}` + "\n"))
	f.Add([]byte(`{"probe":1,"at":"end","t_mono_ns":1,"err":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		lr := NewLineReader(bytes.NewReader(b), maxEngineMetricsLine)
		got, err := ReadEngineMetrics(lr.Next)
		if err != nil {
			return
		}
		for _, l := range got {
			if l.At != ScrapeStart && l.At != ScrapeEnd {
				t.Fatalf("at %q accepted", l.At)
			}
			for k, v := range l.Counters {
				if v < 0 || v != v {
					t.Fatalf("%s=%g accepted", k, v)
				}
			}
		}
	})
}
