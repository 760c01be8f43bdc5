package power

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
)

// fakeMeter serves a metered PDU's Prometheus text exposition: two outlets,
// a gauge of watts and a counter of joules each (the shape of the common
// PDU exporters), plus unrelated series.
type fakeMeter struct {
	srv *httptest.Server
	mu  sync.Mutex
	w   float64
	j   float64
	raw string // served as is when set
}

func newFakeMeter(t *testing.T) *fakeMeter {
	t.Helper()
	m := &fakeMeter{w: 3250, j: 1.5e9}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		defer m.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		if m.raw != "" {
			fmt.Fprint(w, m.raw)
			return
		}
		fmt.Fprintf(w, `# HELP pdu_outlet_power_watts Active power of an outlet.
# TYPE pdu_outlet_power_watts gauge
pdu_outlet_power_watts{pdu="rack7a",outlet="3"} %g
pdu_outlet_power_watts{pdu="rack7a",outlet="4"} 12.5
# HELP pdu_outlet_energy_joules_total Energy through an outlet.
# TYPE pdu_outlet_energy_joules_total counter
pdu_outlet_energy_joules_total{pdu="rack7a",outlet="3"} %g
pdu_outlet_energy_joules_total{pdu="rack7a",outlet="4"} 99
# TYPE pdu_up gauge
pdu_up 1
`, m.w, m.j)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *fakeMeter) set(f func(m *fakeMeter)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

func TestMeterSource(t *testing.T) {
	match := map[string]string{"outlet": "3"}
	tests := []struct {
		name          string
		power, energy string
		psrc, esrc    string
	}{
		{"gauge and counter", "pdu_outlet_power_watts", "pdu_outlet_energy_joules_total", bundle.PowerSourceMeter, bundle.EnergySourceMeter},
		{"gauge only", "pdu_outlet_power_watts", "", bundle.PowerSourceMeter, bundle.EnergySourceIntegrated},
		{"counter only", "", "pdu_outlet_energy_joules_total", bundle.PowerSourceMeterRate, bundle.EnergySourceMeter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newFakeMeter(t)
			s, err := NewMeterSource(context.Background(), MeterConfig{URL: m.srv.URL + "/metrics", PowerMetric: tt.power, EnergyMetric: tt.energy, Match: match})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Boundary() != BoundaryExternal || bundle.PowerSourceBoundary(tt.psrc) != BoundaryExternal {
				t.Errorf("boundary %q / %q, want external", s.Boundary(), bundle.PowerSourceBoundary(tt.psrc))
			}
			clk := NewClock(time.Now())
			x1s, _ := s.Read(context.Background(), clk)
			time.Sleep(20 * time.Millisecond)
			m.set(func(m *fakeMeter) { m.w, m.j = 3350, m.j+100 })
			x2s, _ := s.Read(context.Background(), clk)
			a, b := x1s[0], x2s[0]
			if !b.Valid() || b.PowerSource != tt.psrc || b.EnergySource != tt.esrc {
				t.Fatalf("sample %+v: want power from %s, energy from %s", b, tt.psrc, tt.esrc)
			}
			dt := float64(b.TMonoNs-a.TMonoNs) / 1e9
			switch tt.name {
			case "gauge and counter":
				if b.PowerW != 3350 || b.EnergyMJ != (1.5e9+100)*1e3 {
					t.Errorf("got %v W %v mJ, want 3350 W and the counter in mJ", b.PowerW, b.EnergyMJ)
				}
			case "gauge only":
				if d := b.EnergyMJ - a.EnergyMJ - 3300*dt*1e3; d > 1 || d < -1 {
					t.Errorf("integrated %v mJ over %v s, want %v", b.EnergyMJ-a.EnergyMJ, dt, 3300*dt*1e3)
				}
			case "counter only":
				if want := 100 / dt; b.PowerW < want*0.999 || b.PowerW > want*1.001 {
					t.Errorf("rate %v W, want %v", b.PowerW, want)
				}
			}
		})
	}
}

func TestMeterRefuses(t *testing.T) {
	m := newFakeMeter(t)
	url := m.srv.URL + "/metrics"
	for _, tt := range []struct {
		name string
		cfg  MeterConfig
		want string
	}{
		{"no metric", MeterConfig{URL: url}, "name a gauge"},
		{"several series", MeterConfig{URL: url, PowerMetric: "pdu_outlet_power_watts", Match: map[string]string{"pdu": "rack7a"}}, "matches 2 series"},
		{"no series", MeterConfig{URL: url, PowerMetric: "pdu_outlet_power_watts", Match: map[string]string{"outlet": "9"}}, "matches 0 series"},
		{"missing metric", MeterConfig{URL: url, PowerMetric: "pdu_watts"}, "no metric pdu_watts"},
		{"counter as gauge", MeterConfig{URL: url, PowerMetric: "pdu_outlet_energy_joules_total", Match: map[string]string{"outlet": "3"}}, "is a COUNTER, want a GAUGE"},
		{"credentials over http", MeterConfig{URL: url, PowerMetric: "pdu_up", Username: "u", Password: "p"}, "only sent over https"},
		{"credentials in URL", MeterConfig{URL: strings.Replace(url, "http://", "http://u:p@", 1), PowerMetric: "pdu_up"}, "carries credentials"},
		{"not http", MeterConfig{URL: "file:///etc/passwd", PowerMetric: "pdu_up"}, "want http or https"},
	} {
		if _, err := NewMeterSource(context.Background(), tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrHTTPSource) {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.want)
		}
	}
	s, err := NewMeterSource(context.Background(), MeterConfig{URL: url, PowerMetric: "pdu_up"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, raw := range []string{"<html>login</html>\n", "pdu_up{ 1\n", "pdu_up NaN\n", "pdu_up -4\n"} {
		m.set(func(m *fakeMeter) { m.raw = raw })
		if x := readSingle(t, s); x.Valid() {
			t.Errorf("body %q gave a valid sample %+v", raw, x)
		}
	}
}

func TestParseLabelMatch(t *testing.T) {
	got, err := ParseLabelMatch(` outlet=3, pdu="rack7a"`)
	if err != nil || len(got) != 2 || got["outlet"] != "3" || got["pdu"] != "rack7a" {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"outlet", "a=1,a=2", "1x=2"} {
		if _, err := ParseLabelMatch(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseLabelMatch: no matcher panics the parser, and what it accepts
// has valid label names and no empty name.
func FuzzParseLabelMatch(f *testing.F) {
	for _, s := range []string{`outlet=3,pdu="rack7a"`, "", "a=", `a="b,c"`, "=1", "a=1,a=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseLabelMatch(s)
		if err != nil {
			return
		}
		for k := range m {
			if k == "" || strings.ContainsAny(k, "=, \t") {
				t.Fatalf("%q gave label name %q", s, k)
			}
		}
	})
}
