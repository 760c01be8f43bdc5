package bundle

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

func FuzzDecodeProbes(f *testing.F) {
	f.Add([]byte(`{"format":"agentwatt-probes","version":1,"probes":[{"probe":0,"agents":4,"purpose":"search","start_ns":0,"warmup_start_ns":1,"window_start_ns":2,"window_end_ns":9,"done_ns":10}]}`))
	f.Add([]byte(`{"format":"agentwatt-probes","version":1,"probes":[{"probe":0},{"probe":0}]}`))
	f.Add([]byte(`{"format":"x"}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := DecodeProbes(data)
		if err != nil {
			return
		}
		seen := map[int]bool{}
		for _, p := range pf.Probes {
			if seen[p.Probe] || p.Agents < 0 {
				t.Fatalf("accepted a bad schedule: %+v", pf.Probes)
			}
			seen[p.Probe] = true
		}
	})
}

// TestProbesShape pins probes.json's field names and order: a bundle
// written before must read the same, and a new one must be written the
// same.
func TestProbesShape(t *testing.T) {
	pf := Probes{
		Format: ProbesFormat, Version: ProbesVersion,
		Clock:   ClockAnchor{Wall: time.Unix(1700000000, 0).UTC(), MonotonicNs: 5},
		History: HistoryRecorded,
		Probes: []ProbeRecord{{
			Probe: 0, Agents: 4, Purpose: PurposeSearch, Tier: "t20",
			StartNs: 0, WarmupStartNs: 1, WindowStartNs: 2, WindowEndNs: 9, DoneNs: 10,
			WindowStart: time.Unix(1700000000, 2).UTC(), WindowEnd: time.Unix(1700000000, 9).UTC(),
			WindowStartMonotonicNs: 7, WindowEndMonotonicNs: 14,
			Client: metrics.ClientHealth{CPUShare: 0.5},
		}},
	}
	b, err := json.Marshal(&pf)
	if err != nil {
		t.Fatal(err)
	}
	const wantPrefix = `{"format":"agentwatt-probes","version":1,"clock":{"run_start":"2023-11-14T22:13:20Z","run_start_monotonic_ns":5},"history":"recorded","probes":[{"probe":0,"agents":4,"purpose":"search","tier":"t20","start_ns":0,"warmup_start_ns":1,"window_start_ns":2,"window_end_ns":9,"done_ns":10,"window_start":"2023-11-14T22:13:20.000000002Z","window_end":"2023-11-14T22:13:20.000000009Z","window_start_monotonic_ns":7,"window_end_monotonic_ns":14,"client":{`
	if !bytes.HasPrefix(b, []byte(wantPrefix)) {
		t.Fatalf("probes.json =\n%s\nwant prefix\n%s", b, wantPrefix)
	}
	got, err := DecodeProbes(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Probes[0].WindowEndNs != 9 || got.Clock.MonotonicNs != 5 || !got.Probes[0].HasWindow() {
		t.Fatalf("decoded %+v", got)
	}
}

// TestDecodeProbesRefuses: a hostile runner's probes.json is refused with
// a reason that names the file, whatever part of it is bent.
func TestDecodeProbesRefuses(t *testing.T) {
	const ok = `{"probe":0,"agents":4,"purpose":"search","start_ns":0,"warmup_start_ns":1,"window_start_ns":2,"window_end_ns":9,"done_ns":10}`
	tests := []struct {
		name, data, want string
	}{
		{"format", `{"format":"x","version":1,"probes":[]}`, `format "x"`},
		{"version", `{"format":"agentwatt-probes","version":2,"probes":[]}`, "version 2"},
		{"trailing", `{"format":"agentwatt-probes","version":1,"probes":[]} {}`, "trailing data"},
		{"twice", `{"format":"agentwatt-probes","version":1,"probes":[` + ok + `,` + ok + `]}`, "listed twice"},
		{"negative agents", `{"format":"agentwatt-probes","version":1,"probes":[{"probe":0,"agents":-1}]}`, "negative"},
		{"window before start", `{"format":"agentwatt-probes","version":1,"probes":[{"probe":0,"agents":4,"start_ns":5,"window_start_ns":2,"window_end_ns":9,"done_ns":10}]}`, "out of order"},
		{"done before window end", `{"format":"agentwatt-probes","version":1,"probes":[{"probe":0,"agents":4,"start_ns":0,"window_start_ns":2,"window_end_ns":9,"done_ns":8}]}`, "out of order"},
		// The runner's evaluation is not the verifier's input, but it is
		// part of the schema: a bent one is not waved through.
		{"result of another type", `{"format":"agentwatt-probes","version":1,"probes":[{"probe":0,"agents":4,"result":"passed"}]}`, "cannot unmarshal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeProbes([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), ProbesFile) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s with %q", err, ProbesFile, tc.want)
			}
		})
	}
}

// TestDecodeEnvironment reads what the verifier needs and refuses a field
// of the wrong type with the file's name.
func TestDecodeEnvironment(t *testing.T) {
	env, err := DecodeEnvironment([]byte(`{"model":"m","chat_template":{"per_request":3},"power_stats":{"reads":1},"extra":true}`))
	if err != nil || env.Model != "m" || env.ChatTemplate.PerRequest != 3 {
		t.Fatalf("got %+v, %v", env, err)
	}
	if _, err := DecodeEnvironment([]byte(`{"model":5}`)); err == nil || !strings.Contains(err.Error(), EnvironmentFile) {
		t.Fatalf("got %v, want an error naming %s", err, EnvironmentFile)
	}
}
