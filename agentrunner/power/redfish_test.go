package power

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/bundle"
)

// fakeBMC is a stand-in for a server's BMC: no BMC can be reached from a
// test, so it serves Redfish resources shaped after the DMTF schemas
// (ChassisCollection, Chassis v1.25, Power v1.7 PowerControl,
// PowerSubsystem v1.1, EnvironmentMetrics v1.3) over TLS with Basic
// authentication. Fields the source does not read are kept so that the
// payloads look like a BMC's.
type fakeBMC struct {
	srv *httptest.Server

	mu sync.Mutex
	// legacy: the chassis links only Power (a BMC before Chassis v1.15).
	legacy bool
	// energy: EnvironmentMetrics carries EnergykWh.
	energy  bool
	watts   float64
	kWh     float64
	delay   time.Duration
	garbage bool
	huge    bool
	// redirect, when set, is where the power resource redirects to.
	redirect string
	// foreignLink makes the chassis link its EnvironmentMetrics on another host.
	foreignLink string
	requests    int
}

func newFakeBMC(t *testing.T) *fakeBMC {
	t.Helper()
	b := &fakeBMC{watts: 1180.5, kWh: 36166.25, energy: true}
	b.srv = httptest.NewTLSServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *fakeBMC) set(f func(b *fakeBMC)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

func (b *fakeBMC) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(b.srv.Certificate())
	return p
}

func (b *fakeBMC) config() RedfishConfig {
	return RedfishConfig{URL: b.srv.URL, Username: "agentwatt", Password: "s3cret", RootCAs: b.pool(), Timeout: 2 * time.Second}
}

func (b *fakeBMC) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.requests++
	legacy, energy, watts, kWh, delay, garbage, huge, redirect, foreign := b.legacy, b.energy, b.watts, b.kWh, b.delay, b.garbage, b.huge, b.redirect, b.foreignLink
	b.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != "agentwatt" || p != "s3cret" {
		w.Header().Set("WWW-Authenticate", `Basic realm="BMC"`)
		http.Error(w, `{"error":{"code":"Base.1.8.GeneralError","message":"unauthorized"}}`, http.StatusUnauthorized)
		return
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("OData-Version", "4.0")
	switch r.URL.Path {
	case "/redfish/v1/Chassis":
		fmt.Fprint(w, `{"@odata.id":"/redfish/v1/Chassis","@odata.type":"#ChassisCollection.ChassisCollection","Name":"Chassis Collection","Members@odata.count":1,"Members":[{"@odata.id":"/redfish/v1/Chassis/1U"}]}`)
	case "/redfish/v1/Chassis/1U":
		links := `"Power":{"@odata.id":"/redfish/v1/Chassis/1U/Power"}`
		if !legacy {
			env := "/redfish/v1/Chassis/1U/EnvironmentMetrics"
			if foreign != "" {
				env = foreign + env
			}
			links += `,"PowerSubsystem":{"@odata.id":"/redfish/v1/Chassis/1U/PowerSubsystem"},"EnvironmentMetrics":{"@odata.id":"` + env + `"}`
		}
		fmt.Fprintf(w, `{"@odata.id":"/redfish/v1/Chassis/1U","@odata.type":"#Chassis.v1_25_0.Chassis","Id":"1U","Name":"Computer System Chassis","ChassisType":"RackMount","Manufacturer":"Contoso","Status":{"State":"Enabled","Health":"OK"},%s}`, links)
	case "/redfish/v1/Chassis/1U/Power":
		if redirect != "" {
			http.Redirect(w, r, redirect, http.StatusFound)
			return
		}
		if garbage {
			fmt.Fprint(w, `<html>BMC web UI</html>`)
			return
		}
		fmt.Fprintf(w, `{"@odata.id":"/redfish/v1/Chassis/1U/Power","@odata.type":"#Power.v1_7_1.Power","Id":"Power","Name":"Power","PowerControl":[{"@odata.id":"/redfish/v1/Chassis/1U/Power#/PowerControl/0","MemberId":"0","Name":"Server Power Control","PowerConsumedWatts":%g,"PowerRequestedWatts":1400,"PowerAvailableWatts":0,"PowerCapacityWatts":2400,"PowerAllocatedWatts":1400,"PowerMetrics":{"IntervalInMin":30,"MinConsumedWatts":900,"MaxConsumedWatts":1500,"AverageConsumedWatts":1100},"PowerLimit":{"LimitInWatts":2400,"LimitException":"LogEventOnly","CorrectionInMs":50}}]}`, watts)
	case "/redfish/v1/Chassis/1U/PowerSubsystem":
		fmt.Fprint(w, `{"@odata.id":"/redfish/v1/Chassis/1U/PowerSubsystem","@odata.type":"#PowerSubsystem.v1_1_0.PowerSubsystem","Id":"PowerSubsystem","Name":"Power Subsystem for Chassis","CapacityWatts":2400,"Allocation":{"RequestedWatts":1400,"AllocatedWatts":1400},"PowerSupplies":{"@odata.id":"/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies"},"Status":{"State":"Enabled","Health":"OK"}}`)
	case "/redfish/v1/Chassis/1U/EnvironmentMetrics":
		switch {
		case garbage:
			fmt.Fprint(w, `{"PowerWatts":{"Reading":"lots"`)
			return
		case huge:
			fmt.Fprintf(w, `{"PowerWatts":{"Reading":%g},"Oem":"%s"}`, watts, strings.Repeat("x", maxRedfishBody))
			return
		}
		e := ""
		if energy {
			e = fmt.Sprintf(`,"EnergykWh":{"DataSourceUri":"/redfish/v1/Chassis/1U/Sensors/TotalEnergy","Reading":%g}`, kWh)
		}
		fmt.Fprintf(w, `{"@odata.id":"/redfish/v1/Chassis/1U/EnvironmentMetrics","@odata.type":"#EnvironmentMetrics.v1_3_0.EnvironmentMetrics","Id":"EnvironmentMetrics","Name":"Chassis Environment Metrics","TemperatureCelsius":{"DataSourceUri":"/redfish/v1/Chassis/1U/Sensors/AmbientTemp","Reading":22.5},"PowerWatts":{"DataSourceUri":"/redfish/v1/Chassis/1U/Sensors/TotalPower","Reading":%g}%s,"Actions":{"#EnvironmentMetrics.ResetMetrics":{"target":"/redfish/v1/Chassis/1U/EnvironmentMetrics/Actions/EnvironmentMetrics.ResetMetrics"}}}`, watts, e)
	default:
		http.NotFound(w, r)
	}
}

func readSingle(t *testing.T, s Source) Sample {
	t.Helper()
	got, err := s.Read(context.Background(), NewClock(time.Now()))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("Read gave %d samples, want 1 (the chassis)", len(got))
	}
	return got[0]
}

func TestRedfishSchemas(t *testing.T) {
	tests := []struct {
		name           string
		legacy, energy bool
		power, esrc    string
		wantEnergyMJ   float64 // of the first sample; -1: integrated (0 first)
	}{
		{"EnvironmentMetrics with EnergykWh", false, true, bundle.PowerSourceRedfishMetrics, bundle.EnergySourceRedfishKWh, 36166.25 * 3.6e9},
		{"EnvironmentMetrics without energy", false, false, bundle.PowerSourceRedfishMetrics, bundle.EnergySourceIntegrated, 0},
		{"legacy Power PowerControl", true, false, bundle.PowerSourceRedfishControl, bundle.EnergySourceIntegrated, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFakeBMC(t)
			b.set(func(b *fakeBMC) { b.legacy, b.energy = tt.legacy, tt.energy })
			s, err := NewRedfishSource(context.Background(), b.config(), zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Boundary() != BoundaryNode || s.Chassis() != "1U" {
				t.Errorf("boundary %q chassis %q, want node 1U", s.Boundary(), s.Chassis())
			}
			if got := bundle.PowerSourceBoundary(tt.power); got != BoundaryNode {
				t.Errorf("PowerSourceBoundary(%s) = %q, want node", tt.power, got)
			}
			clk := NewClock(time.Now())
			x1, _ := s.Read(context.Background(), clk)
			if !x1[0].Valid() || x1[0].PowerW != 1180.5 || x1[0].PowerSource != tt.power || x1[0].EnergySource != tt.esrc {
				t.Fatalf("first sample %+v: want 1180.5 W from %s, energy %s", x1[0], tt.power, tt.esrc)
			}
			if x1[0].EnergyMJ != tt.wantEnergyMJ {
				t.Errorf("first energy %v mJ, want %v", x1[0].EnergyMJ, tt.wantEnergyMJ)
			}
			if x1[0].Note == "" {
				t.Errorf("the first sample notes no read path")
			}
			time.Sleep(20 * time.Millisecond)
			b.set(func(b *fakeBMC) { b.watts, b.kWh = 1219.5, b.kWh+0.001 })
			x2, _ := s.Read(context.Background(), clk)
			dt := float64(x2[0].TMonoNs-x1[0].TMonoNs) / 1e9
			want := x1[0].EnergyMJ + 3.6e6 // 0.001 kWh
			if tt.esrc == bundle.EnergySourceIntegrated {
				want = 1200 * dt * 1e3 // trapezoid of 1180.5 and 1219.5 W
			}
			if d := x2[0].EnergyMJ - want; d > 1e-3*want+1e-6 || d < -(1e-3*want+1e-6) {
				t.Errorf("second energy %v mJ, want %v", x2[0].EnergyMJ, want)
			}
			if x2[0].Note != "" {
				t.Errorf("a later sample repeats the note %q", x2[0].Note)
			}
		})
	}
}

// TestRedfishIntegratePower: with IntegratePower the BMC's counter is not
// read; the energy is the integral of its readings.
func TestRedfishIntegratePower(t *testing.T) {
	b := newFakeBMC(t)
	cfg := b.config()
	cfg.IntegratePower = true
	s, err := NewRedfishSource(context.Background(), cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x := readSingle(t, s)
	if x.EnergySource != bundle.EnergySourceIntegrated || x.EnergyMJ != 0 || !strings.Contains(x.Note, "ignored by request") {
		t.Errorf("sample %+v: want integrated energy", x)
	}
}

func TestRedfishAuthFailure(t *testing.T) {
	b := newFakeBMC(t)
	cfg := b.config()
	cfg.Password = "wrong"
	_, err := NewRedfishSource(context.Background(), cfg, zerolog.Nop())
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: err %v, want ErrAuth naming HTTP 401", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestRedfishVerifiesTLS: without the BMC's CA (and without Insecure) the
// self-signed BMC is refused; Insecure reads it, and says so in the log.
func TestRedfishVerifiesTLS(t *testing.T) {
	b := newFakeBMC(t)
	cfg := b.config()
	cfg.RootCAs = nil
	if _, err := NewRedfishSource(context.Background(), cfg, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("self-signed BMC without Insecure: err %v, want a certificate error", err)
	}
	cfg.Insecure = true
	var log strings.Builder
	s, err := NewRedfishSource(context.Background(), cfg, zerolog.New(&log))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !strings.Contains(log.String(), "TLS verification is OFF") || !strings.Contains(log.String(), `"level":"warn"`) {
		t.Errorf("Insecure was not logged as a warning: %s", log.String())
	}
	cfg.URL = strings.Replace(b.srv.URL, "https:", "http:", 1)
	if _, err := NewRedfishSource(context.Background(), cfg, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "want https") {
		t.Errorf("plain http BMC: err %v, want refused", err)
	}
}

func TestRedfishBadReplies(t *testing.T) {
	t.Run("slow BMC", func(t *testing.T) {
		b := newFakeBMC(t)
		s, err := NewRedfishSource(context.Background(), b.config(), zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		b.set(func(b *fakeBMC) { b.delay = time.Second })
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		got, err := s.Read(ctx, NewClock(time.Now()))
		if err != nil || len(got) != 1 || got[0].Valid() || !strings.Contains(got[0].Err, "deadline") {
			t.Fatalf("slow BMC: %+v, %v; want one failed sample naming the deadline", got, err)
		}
	})
	t.Run("garbage JSON", func(t *testing.T) {
		b := newFakeBMC(t)
		s, err := NewRedfishSource(context.Background(), b.config(), zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		b.set(func(b *fakeBMC) { b.garbage = true })
		if x := readSingle(t, s); x.Valid() || !strings.Contains(x.Err, "not a Redfish resource") {
			t.Errorf("garbage: %+v, want a failed sample", x)
		}
		b.set(func(b *fakeBMC) { b.garbage, b.huge = false, true })
		if x := readSingle(t, s); x.Valid() || !strings.Contains(x.Err, "larger than") {
			t.Errorf("oversized body: %+v, want a failed sample", x)
		}
	})
	t.Run("implausible reading", func(t *testing.T) {
		b := newFakeBMC(t)
		s, err := NewRedfishSource(context.Background(), b.config(), zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		b.set(func(b *fakeBMC) { b.watts = -5 })
		if x := readSingle(t, s); x.Valid() {
			t.Errorf("negative watts accepted: %+v", x)
		}
	})
}

// TestRedfishCounterReset: a BMC whose energy counter restarts (the
// ResetMetrics action, a BMC reboot) is a reset event of the sampler, and
// the window across it is refused by the energy formulas' reset count.
func TestRedfishCounterReset(t *testing.T) {
	b := newFakeBMC(t)
	s, err := NewRedfishSource(context.Background(), b.config(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sm, err := NewSampler(s, time.Now(), Config{Interval: 20 * time.Millisecond, MaxGap: time.Second}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := sm.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitSamples(t, sm, 3)
	b.set(func(b *fakeBMC) { b.kWh = 0.002 })
	waitSamples(t, sm, 6)
	if err := sm.Stop(); err != nil {
		t.Fatal(err)
	}
	if st := sm.Stats(); st.Resets != 1 {
		t.Fatalf("resets %d, want 1 (events %+v)", st.Resets, sm.Events())
	}
	xs := sm.Samples()
	w, err := WindowEnergy(xs, xs[0].TMonoNs, xs[len(xs)-1].TMonoNs)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Resets) != 1 {
		t.Errorf("window across the reset reports %d resets, want 1", len(w.Resets))
	}
}

func waitSamples(t *testing.T, sm *Sampler, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for sm.Stats().Samples < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d samples after 5s: %+v", n, sm.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRedfishStaysOnTheBMC is the attack of a hostile or compromised BMC
// (or a man in the middle on a misconfigured one) that would send the
// runner, and its credentials, elsewhere: a redirect to another host, and
// a resource link to another host. Both are refused; the other host never
// sees a request.
func TestRedfishStaysOnTheBMC(t *testing.T) {
	var leaked sync.Mutex
	got := 0
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Lock()
		got++
		leaked.Unlock()
		fmt.Fprint(w, `{"PowerControl":[{"PowerConsumedWatts":1}]}`)
	}))
	defer other.Close()

	b := newFakeBMC(t)
	b.set(func(b *fakeBMC) { b.foreignLink = other.URL })
	if _, err := NewRedfishSource(context.Background(), b.config(), zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "leaves") {
		t.Errorf("EnvironmentMetrics linked on another host: err %v, want refused", err)
	}

	b.set(func(b *fakeBMC) { b.foreignLink, b.legacy = "", true })
	s, err := NewRedfishSource(context.Background(), b.config(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b.set(func(b *fakeBMC) { b.redirect = other.URL + "/steal" })
	if x := readSingle(t, s); x.Valid() || !strings.Contains(x.Err, "refused redirect") {
		t.Errorf("redirect to another host: %+v, want a failed sample", x)
	}
	leaked.Lock()
	defer leaked.Unlock()
	if got != 0 {
		t.Errorf("the other host got %d requests", got)
	}
}

func TestLoadCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := LoadCredentials(write("ok", `{"username":"root","password":"calvin"}`, 0o600))
	if err != nil || c.Username != "root" || c.Password != "calvin" {
		t.Errorf("good file: %+v, %v", c, err)
	}
	for _, tt := range []struct {
		name, body, want string
		mode             os.FileMode
	}{
		{"readable", `{"username":"root","password":"x"}`, "group or others", 0o644},
		{"no user", `{"password":"x"}`, "no username", 0o600},
		{"unknown field", `{"username":"root","pasword":"x"}`, "unknown field", 0o600},
		{"not json", `root:calvin`, "want {", 0o600},
	} {
		if _, err := LoadCredentials(write(tt.name, tt.body, tt.mode)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.want)
		}
	}
}
