package bundle

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

func TestProbeSummaryOf(t *testing.T) {
	r := metrics.ProbeResult{
		Agents: 16, WindowS: 60, Requests: 400, Errors: 2, Truncated: 1,
		TTFTP50S: 0.5, TTFTP90S: 1.5, DecodeTPSP10: 25, DecodeTPSP50: 40,
		CachedTokenShare: 0.8, OutputTokensPerS: 900, ActiveSessions: 15.9, InFlight: 14.2,
		Valid: true, Conclusive: true,
		Tiers: []metrics.TierResult{
			{Tier: "t20", MetShare: 0.97, MetShareLower: 0.95, AgentShare: 1, Passed: true},
			{Tier: "t50", MetShare: 0.2, MetShareLower: 0.15, AgentShare: 0.1, Reasons: []string{"met share lower bound 0.15 < 0.90"}},
		},
	}
	client := metrics.ClientHealth{SchedLagP99Ns: int64(3 * time.Millisecond), CPUShare: 0.12}
	p := ProbeSummaryOf(3, r, 10e9, 70e9, client)
	if p.Index != 3 || p.Agents != 16 || p.WindowStartNs != 10e9 || p.WindowEndNs != 70e9 || p.Requests != 400 {
		t.Errorf("probe = %+v", p)
	}
	if p.Client.SchedLagP99Ms != 3 || p.Client.CPUShare != 0.12 {
		t.Errorf("client = %+v, want 3 ms, 0.12", p.Client)
	}
	if got := p.Tiers["t20"]; !got.Passed || got.MetShareLower99 != 0.95 {
		t.Errorf("t20 = %+v", got)
	}
	if got := p.Tiers["t50"]; got.Passed || len(got.Reasons) != 1 {
		t.Errorf("t50 = %+v", got)
	}
	if p.InvalidReasons == nil || p.InconclusiveReasons == nil {
		t.Error("reason lists must encode as [], not null")
	}

	counter := metrics.Energy{Joules: 60000, PerGPU: map[int]float64{0: 30000, 1: 30000}}
	instant := metrics.Energy{Joules: 59800}
	p.Energy = WindowEnergyOf(counter, instant, 60, 54000, 0.1)
	if p.Energy.AvgPowerW != 1000 || p.Energy.JoulesPerToken != 60000.0/54000 || p.Energy.PerGPUCounterJ["1"] != 30000 {
		t.Errorf("energy = %+v", p.Energy)
	}
}

// TestSummaryShape pins the JSON names of issue 4 §4 and the runner's
// additions, and the strict round trip.
func TestSummaryShape(t *testing.T) {
	confirm := 1
	s := Summary{
		SchemaVersion: SummarySchemaVersion, Simulated: true, Profile: "quick", PowerBoundary: "sim", GPUs: 8,
		IdleBaseline: &IdleBaseline{State: "engine-idle", DurationS: 10, EnergyJ: 500, AvgPowerW: 50},
		Tiers: map[string]TierSummary{"t20": {
			MaxAgents: 64, Confirmed: true, ConfirmProbe: &confirm, MinDecodeTPS: 20, MaxTTFTS: 10,
			OutputTokensPerS: 2000, EnergyCounterJ: 6e5, EnergyInstantJ: 5.99e5, AvgPowerW: 1e4,
			AgentsPerMW: 6400, AgentsPerGPU: 8, JoulesPerToken: 5,
		}},
		Probes: []ProbeSummary{{Index: 1, Agents: 64, WindowEndNs: 1, Tiers: map[string]ProbeTierSummary{"t20": {Passed: true}},
			InvalidReasons: []string{}, Energy: &WindowEnergy{CounterJ: 1}}},
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		`"tiers":{"t20":{"max_agents":64,"confirmed":true`, `"probes":[{"index":1,`, `"agents":64`, `"window_s":`,
		`"requests":`, `"errors":`, `"ttft_p50_s":`, `"ttft_p90_s":`, `"decode_tps_p10":`, `"decode_tps_p50":`,
		`"cached_token_share":`, `"client":{"sched_lag_p99_ms":0,"cpu_share":0}`, `"met_share":`,
		`"met_share_lower99":`, `"passed":true`, `"valid":`, `"invalid_reasons":[]`,
		`"agents_per_mw":6400`, `"agents_per_gpu":8`, `"output_tokens_per_s":2000`, `"joules_per_token":5`,
		`"energy_counter_j":600000`, `"energy_instant_j":599000`, `"avg_power_w":10000`,
		`"idle_baseline":{`, `"energy":{"counter_j":1,`, `"simulated":true`,
	} {
		if !strings.Contains(string(b), key) {
			t.Errorf("summary JSON lacks %s:\n%s", key, b)
		}
	}
	got, err := DecodeSummary(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tiers["t20"].AgentsPerMW != 6400 || *got.Tiers["t20"].ConfirmProbe != 1 {
		t.Errorf("round trip = %+v", got.Tiers["t20"])
	}
}

func TestDecodeSummaryErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
		is             error
	}{
		{"unknown field", "{\"schema_version\":1,\n\"tiers\":{},\"probes\":[],\"bogus\":1}", "summary.json:2:", nil},
		{"wrong type", "{\"schema_version\":1,\"tiers\":{\"t20\":{\"max_agents\":\"many\"}}}", "summary.json:1:", nil},
		{"future version", `{"schema_version":2}`, "schema_version 2", ErrSchemaVersion},
		{"trailing", `{"schema_version":1} {}`, "trailing data", nil},
		{"negative max", `{"schema_version":1,"tiers":{"t20":{"max_agents":-1}}}`, "tiers.t20.max_agents", nil},
		{"empty", ``, "empty document", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeSummary([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
		})
	}
}

func TestRepeatSpreadOf(t *testing.T) {
	tests := []struct {
		name    string
		agents  int
		windows []RepeatWindow
		want    *RepeatSpread
	}{
		{"no window", 8, nil, nil},
		{"three windows", 8, []RepeatWindow{{Probe: 7, MetShare: 0.99, AvgPowerW: 1000}, {Probe: 9, MetShare: 0.97, AvgPowerW: 800}, {Probe: 10, MetShare: 1, AvgPowerW: 2000}},
			&RepeatSpread{Probes: []int{7, 9, 10}, MetShare: metrics.Spread{Min: 0.97, Median: 0.99, Max: 1},
				AgentsPerMW: &metrics.Spread{Min: 4000, Median: 8000, Max: 10000}}},
		{"a window without power: no Agents/MW spread", 8, []RepeatWindow{{Probe: 7, MetShare: 0.99, AvgPowerW: 1000}, {Probe: 9, MetShare: 0.97}},
			&RepeatSpread{Probes: []int{7, 9}, MetShare: metrics.Spread{Min: 0.97, Median: 0.97, Max: 0.99}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RepeatSpreadOf(tt.agents, tt.windows)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("RepeatSpreadOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestRepeatSpreadOfProbes: the windows counted are the confirmation and
// the repeats that measured a valid, conclusive window, as the verifier
// counts them; no repeat, no spread.
func TestRepeatSpreadOfProbes(t *testing.T) {
	probe := func(i int, share, watts float64, valid, conclusive bool) ProbeSummary {
		return ProbeSummary{Index: i, Valid: valid, Conclusive: conclusive, Tiers: map[string]ProbeTierSummary{"t20": {MetShare: share}},
			Energy: &WindowEnergy{AvgPowerW: watts}}
	}
	probes := []ProbeSummary{probe(3, 0.99, 1000, true, true), probe(5, 0.5, 900, false, true), probe(6, 0.6, 900, true, false), probe(7, 0.95, 1250, true, true)}
	got := RepeatSpreadOfProbes("t20", 10, 3, []int{5, 6, 7}, probes)
	want := &RepeatSpread{Probes: []int{3, 7}, MetShare: metrics.Spread{Min: 0.95, Median: 0.95, Max: 0.99},
		AgentsPerMW: &metrics.Spread{Min: 8000, Median: 8000, Max: 10000}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RepeatSpreadOfProbes = %+v, want %+v", got, want)
	}
	if got := RepeatSpreadOfProbes("t20", 10, 3, nil, probes); got != nil {
		t.Errorf("without repeats: %+v, want nil", got)
	}
}
