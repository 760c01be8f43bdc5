package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

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

// TestRunnerPowerSourceRedfish: the runner opens its BMC once at start, so
// a wrong credential stops it there; with the right one every job gets a
// node-boundary source. The BMC is an httptest stand-in serving the DMTF
// shapes the source reads (no BMC is reachable from a test), self-signed,
// so the runner needs --redfish-insecure, which it logs as a warning.
func TestRunnerPowerSourceRedfish(t *testing.T) {
	bmc := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, _ := r.BasicAuth(); u != "root" || p != "calvin" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/redfish/v1/Chassis":
			fmt.Fprint(w, `{"Members":[{"@odata.id":"/redfish/v1/Chassis/Self"}]}`)
		case "/redfish/v1/Chassis/Self":
			fmt.Fprint(w, `{"@odata.type":"#Chassis.v1_25_0.Chassis","Id":"Self","EnvironmentMetrics":{"@odata.id":"/redfish/v1/Chassis/Self/EnvironmentMetrics"}}`)
		case "/redfish/v1/Chassis/Self/EnvironmentMetrics":
			fmt.Fprint(w, `{"@odata.type":"#EnvironmentMetrics.v1_3_0.EnvironmentMetrics","PowerWatts":{"Reading":4200},"EnergykWh":{"Reading":12.5}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer bmc.Close()
	creds := filepath.Join(t.TempDir(), "bmc.json")
	write := func(body string) {
		if err := os.WriteFile(creds, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f := &powerFlags{source: powerRedfish, redfishURL: bmc.URL, redfishCreds: creds, redfishInsecure: true}
	write(`{"username":"root","password":"wrong"}`)
	if _, err := runnerPowerSource(nil, f, zerolog.Nop()); !errors.Is(err, power.ErrAuth) {
		t.Fatalf("wrong password: %v, want the runner to stop with ErrAuth", err)
	}
	write(`{"username":"root","password":"calvin"}`)
	var log strings.Builder
	open, err := runnerPowerSource(nil, f, zerolog.New(&log))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "TLS verification is OFF") {
		t.Errorf("--redfish-insecure not logged: %s", log.String())
	}
	src, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer src.(interface{ Close() error }).Close()
	if src.Name() != "redfish" || src.Boundary() != power.BoundaryNode {
		t.Errorf("source %s at %s, want redfish at node", src.Name(), src.Boundary())
	}
}
