package agentrunner

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
)

// TestProgressEventEveryTier: a progress event carries every tier's state,
// bracket and pass share, and reads back as the snapshot it was made from;
// a reader of the old fields still finds the first tier in them.
func TestProgressEventEveryTier(t *testing.T) {
	p := replay.Progress{
		Probe: 3, Phase: "window", Agents: 16, InFlight: 15, Requests: 140, Tier: "t20", PassShare: 0.973,
		WindowElapsed: 12 * time.Second, WindowMin: 30 * time.Second, MinRequests: 100, Search: "t20: 8 ≤ N_max < 12",
		Tiers: []replay.TierProgress{
			{Tier: "t20", State: "searching", Lo: 8, Hi: 12, PassShare: 0.973},
			{Tier: "t50", State: "waiting", Hi: 12},
			{Tier: "t100", State: "done", MaxAgents: 4, Confirmed: true},
		},
		ProbesDone: 3, Elapsed: 97 * time.Second, ETA: 154 * time.Second, ETAReason: "probes take 40s, not 30s",
	}
	b, err := json.Marshal(newProgressData(p))
	if err != nil {
		t.Fatal(err)
	}
	var d ProgressData
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if got := d.Progress(); !reflect.DeepEqual(got, p) {
		t.Errorf("read back\n%+v\nwant\n%+v\nfrom %s", got, p, b)
	}
	if d.Phase != PhaseSearch {
		t.Errorf("phase %q, want %q", d.Phase, PhaseSearch)
	}
	var old struct {
		Phase      string  `json:"phase"`
		Agents     int     `json:"agents"`
		Tier       string  `json:"tier"`
		PassShare  float64 `json:"pass_share"`
		Search     string  `json:"search"`
		ProbesDone int     `json:"probes_done"`
		ETAS       float64 `json:"eta_s"`
	}
	if err := json.Unmarshal(b, &old); err != nil {
		t.Fatal(err)
	}
	if old.Phase != PhaseSearch || old.Agents != 16 || old.Tier != "t20" || old.PassShare != 0.973 ||
		old.Search != p.Search || old.ProbesDone != 3 || old.ETAS != 154 {
		t.Errorf("the old fields: %+v", old)
	}
}
