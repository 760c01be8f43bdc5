package power

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// SimSource reads the sim engine's GET /sim/v1/power. Its power is
// simulated (BoundarySimulated) and is never published as hardware.
type SimSource struct {
	url    string
	client *http.Client
	tr     *http.Transport
}

var _ Source = (*SimSource)(nil)

// maxSimBody bounds a /sim/v1/power response.
const maxSimBody = 4 << 20

// stampSlack is how far outside the request's send/receive span a sim
// timestamp may lie and still be trusted (clock-read rounding).
const stampSlack = int64(time.Millisecond)

// NewSimSource reads the sim engine at baseURL ("http://127.0.0.1:8000").
// Close releases its idle connection.
func NewSimSource(baseURL string) *SimSource {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, IdleConnTimeout: 30 * time.Second}
	return &SimSource{
		url:    strings.TrimRight(baseURL, "/") + "/sim/v1/power",
		tr:     tr,
		client: &http.Client{Transport: tr},
	}
}

// Name is "sim".
func (s *SimSource) Name() string { return "sim" }

// Boundary is BoundarySimulated.
func (s *SimSource) Boundary() string { return BoundarySimulated }

// Close closes idle connections.
func (s *SimSource) Close() error {
	s.tr.CloseIdleConnections()
	return nil
}

// simReading is the part of the sim's PowerReading the source uses.
type simReading struct {
	Simulated bool   `json:"simulated"`
	Clock     string `json:"clock"`
	GPUs      []struct {
		Index    int     `json:"index"`
		EnergyMJ uint64  `json:"energy_mj"`
		PowerW   float64 `json:"power_w"`
		TUnixNS  int64   `json:"t_unix_ns"`
		TMonoNS  int64   `json:"t_mono_ns"`
	} `json:"gpus"`
}

// Read fetches one reading. The sim reports when it evaluated its counters
// on CLOCK_MONOTONIC; where that lies within the request's span on this
// host's clock it is the sample's time, otherwise (another host, another
// clock) the middle of the span is.
func (s *SimSource) Read(ctx context.Context, clk Clock) ([]Sample, error) {
	t0 := clk.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("sim power: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sim power: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSimBody))
	t1 := clk.Now()
	if err != nil {
		return nil, fmt.Errorf("sim power: read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sim power: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body[:min(len(body), 200)])))
	}
	var r simReading
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("sim power: decode: %w", err)
	}
	if !r.Simulated {
		return nil, fmt.Errorf("sim power: response not marked simulated")
	}
	if len(r.GPUs) == 0 {
		return nil, fmt.Errorf("sim power: no GPUs in response")
	}
	hostMono := strings.Contains(r.Clock, "CLOCK_MONOTONIC")
	out := make([]Sample, 0, len(r.GPUs))
	for _, g := range r.GPUs {
		var x Sample
		x.GPU = g.Index
		x.EnergyMJ = float64(g.EnergyMJ)
		x.PowerW = g.PowerW
		x.PowerSource, x.EnergySource = SourceSim, SourceSim
		x.SrcTUnixNs = g.TUnixNS
		x.ReadNs = t1 - t0
		x.TMonoNs = t0 + (t1-t0)/2
		if hostMono {
			if t, ok := clk.FromHostMonotonic(g.TMonoNS); ok && t >= t0-stampSlack && t <= t1+stampSlack {
				x.TMonoNs = t
			}
		}
		x.TUnixNs = clk.UnixNano(x.TMonoNs)
		out = append(out, x)
	}
	return out, nil
}
