package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/agentrunner/power"
	"github.com/agentwatt/agentwatt/bundle"
)

// TestGPUSampleMeter: 'gpu sample --power-source external' reads a meter's
// Prometheus endpoint (a stand-in PDU on loopback) at the external
// boundary's rate, 1 Hz, unless --hz says otherwise.
func TestGPUSampleMeter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# TYPE pdu_outlet_power_watts gauge\npdu_outlet_power_watts{outlet=\"3\"} 2500\npdu_outlet_power_watts{outlet=\"4\"} 9\n")
	}))
	defer srv.Close()
	stdout, stderr, code := runGPUChild(t, "gpu", "sample", "--seconds", "2.5", "--power-source", "external",
		"--power-meter-url", srv.URL+"/metrics", "--power-meter-watts", "pdu_outlet_power_watts", "--power-meter-match", `outlet="3"`, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var m power.Measurement
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("decode %q: %v", stdout, err)
	}
	if m.Source != "meter" || m.Boundary != power.BoundaryExternal || m.Interval.Seconds() != 1 || len(m.GPUs) != 1 {
		t.Fatalf("measurement %+v: want one meter series at 1 Hz", m)
	}
	if g := m.GPUs[0]; g.Samples < 2 || g.Samples > 4 || g.PowerSource != bundle.PowerSourceMeter || g.AvgW < 2499 || g.AvgW > 2501 {
		t.Errorf("series %+v: want 2-4 samples of 2500 W", g)
	}
}

func TestPowerFlagsValidate(t *testing.T) {
	for _, tt := range []struct {
		f    powerFlags
		want string
	}{
		{powerFlags{source: "ipmi"}, "want nvml, amdgpu, redfish or external"},
		{powerFlags{source: "redfish", redfishURL: "https://bmc"}, "--redfish-credentials"},
		{powerFlags{source: "external", meterURL: "http://pdu/metrics"}, "--power-meter-watts"},
		{powerFlags{source: "external", meterURL: "http://pdu/metrics", meterPower: "w", meterMatch: "outlet"}, "--power-meter-match"},
	} {
		if err := tt.f.validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.f, err, tt.want)
		}
	}
	if err := (&powerFlags{}).validate(); err != nil {
		t.Errorf("default: %v", err)
	}
}
