package power

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agentwatt/agentwatt/bundle"
)

// maxMeterBody bounds one scrape of a meter: a PDU with many outlets
// exposes a few hundred kilobytes at most.
const maxMeterBody = 4 << 20

// MeterConfig points a MeterSource at an external meter or PDU that
// serves the Prometheus text exposition format.
type MeterConfig struct {
	// URL is the meter's metrics endpoint, "http://pdu-a:9100/metrics".
	URL string
	// PowerMetric names a gauge of watts; EnergyMetric a counter of
	// joules. At least one is needed; with only the gauge the energy is
	// integrated, with only the counter the power is its rate between
	// two scrapes.
	PowerMetric, EnergyMetric string
	// Match selects the one series of each metric by label values
	// (every label named must have that value); it must select exactly
	// one.
	Match map[string]string
	// Username and Password, when set, are sent as Basic credentials (over
	// https only).
	Username, Password string
	// Insecure skips TLS verification; RootCAs replace the system's roots.
	Insecure bool
	RootCAs  *x509.CertPool
	// Timeout bounds each scrape: 5 s by default.
	Timeout time.Duration
}

// MeterSource reads a node's power from an external meter (a metered PDU
// outlet, an inline meter) through a Prometheus text endpoint the operator
// names. Its boundary is BoundaryExternal: whatever the operator wired
// through the meter. Each sample is series 0. It is not safe for
// concurrent Reads; one Sampler owns it.
type MeterSource struct {
	g   *httpGetter
	u   *url.URL
	cfg MeterConfig

	integ integrator
	// last counter reading, for the power of a counter-only meter.
	haveLast bool
	lastT    int64
	lastMJ   float64
}

var _ Source = (*MeterSource)(nil)

// ParseLabelMatch reads a label matcher, `outlet=3,pdu="rack-7a"`.
func ParseLabelMatch(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`)
		if !ok || !model.LegacyValidation.IsValidLabelName(k) {
			return nil, fmt.Errorf("label matcher %q: want name=value[,name=value…]", s)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("label matcher %q: %s twice", s, k)
		}
		out[k] = v
	}
	return out, nil
}

// NewMeterSource checks the configuration and scrapes the meter once to
// make sure the named series exist.
func NewMeterSource(ctx context.Context, cfg MeterConfig) (*MeterSource, error) {
	if cfg.PowerMetric == "" && cfg.EnergyMetric == "" {
		return nil, fmt.Errorf("meter: %w: name a gauge of watts, a counter of joules, or both", ErrHTTPSource)
	}
	for _, m := range []string{cfg.PowerMetric, cfg.EnergyMetric} {
		if m != "" && !model.LegacyValidation.IsValidMetricName(m) {
			return nil, fmt.Errorf("meter: %w: %q is not a metric name", ErrHTTPSource, m)
		}
	}
	creds := cfg.Username != "" || cfg.Password != ""
	g, err := newHTTPGetter(cfg.URL, !creds, cfg.Insecure, cfg.RootCAs, cfg.Timeout, maxMeterBody)
	if err != nil {
		if creds {
			err = fmt.Errorf("%w (credentials are only sent over https)", err)
		}
		return nil, fmt.Errorf("meter: %w", err)
	}
	g.user, g.pass = cfg.Username, cfg.Password
	s := &MeterSource{g: g, cfg: cfg}
	s.u, _ = url.Parse(cfg.URL) // newHTTPGetter parsed it
	if _, _, err := s.scrape(ctx); err != nil {
		g.close()
		return nil, err
	}
	return s, nil
}

// Name is "meter".
func (s *MeterSource) Name() string { return "meter" }

// Boundary is BoundaryExternal.
func (s *MeterSource) Boundary() string { return BoundaryExternal }

// Close drops idle connections.
func (s *MeterSource) Close() error {
	s.g.close()
	return nil
}

// scrape reads the named series: watts (NaN-free, or -1 when no gauge is
// named) and joules (-1 when no counter is named).
func (s *MeterSource) scrape(ctx context.Context) (w, j float64, err error) {
	body, err := s.g.get(ctx, s.u, "text/plain;version=0.0.4")
	if err != nil {
		return 0, 0, fmt.Errorf("meter: %w", err)
	}
	fams, err := ParseExposition(body)
	if err != nil {
		return 0, 0, fmt.Errorf("meter: %w", err)
	}
	w, j = -1, -1
	if s.cfg.PowerMetric != "" {
		if w, err = pick(fams, s.cfg.PowerMetric, s.cfg.Match, dto.MetricType_GAUGE); err != nil {
			return 0, 0, fmt.Errorf("meter: %w", err)
		}
	}
	if s.cfg.EnergyMetric != "" {
		if j, err = pick(fams, s.cfg.EnergyMetric, s.cfg.Match, dto.MetricType_COUNTER); err != nil {
			return 0, 0, fmt.Errorf("meter: %w", err)
		}
	}
	return w, j, nil
}

// ParseExposition parses a Prometheus text exposition.
func ParseExposition(body []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: not a Prometheus text exposition: %w", ErrHTTPSource, err)
	}
	return fams, nil
}

// pick is the value of the one series of metric name whose labels match;
// the family must be of type want (or untyped).
func pick(fams map[string]*dto.MetricFamily, name string, match map[string]string, want dto.MetricType) (float64, error) {
	f := fams[name]
	if f == nil {
		return 0, fmt.Errorf("%w: no metric %s (the meter has %d others)", ErrHTTPSource, name, len(fams))
	}
	if t := f.GetType(); t != want && t != dto.MetricType_UNTYPED {
		return 0, fmt.Errorf("%w: %s is a %s, want a %s", ErrHTTPSource, name, t, want)
	}
	var found []*dto.Metric
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range match {
			if labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		return 0, fmt.Errorf("%w: %s{%s} matches %d series, want exactly 1", ErrHTTPSource, name, matchString(match), len(found))
	}
	m := found[0]
	var v float64
	switch {
	case m.GetGauge() != nil:
		v = m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		v = m.GetCounter().GetValue()
	default:
		v = m.GetUntyped().GetValue()
	}
	return v, nil
}

func matchString(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return strings.Join(parts, ",")
}

// Read scrapes the meter once.
func (s *MeterSource) Read(ctx context.Context, clk Clock) ([]Sample, error) {
	var x Sample
	t0 := clk.Now()
	w, j, err := s.scrape(ctx)
	t1 := clk.Now()
	x.ReadNs, x.TMonoNs = t1-t0, t0+(t1-t0)/2
	x.TUnixNs = clk.UnixNano(x.TMonoNs)
	if err == nil {
		err = s.fill(&x, w, j)
	}
	if err != nil {
		x.Err = err.Error()
		x.PowerW, x.EnergyMJ = 0, 0
	}
	return []Sample{x}, nil
}

func (s *MeterSource) fill(x *Sample, w, j float64) error {
	switch {
	case w >= 0 && j >= 0:
		x.PowerW, x.PowerSource = w, bundle.PowerSourceMeter
		x.EnergyMJ, x.EnergySource = j*1e3, bundle.EnergySourceMeter
	case w >= 0:
		x.PowerW, x.PowerSource = w, bundle.PowerSourceMeter
		x.EnergyMJ, x.EnergySource = s.integ.add(x.TMonoNs, w), bundle.EnergySourceIntegrated
	default:
		mJ := j * 1e3
		if !s.haveLast || mJ < s.lastMJ || x.TMonoNs <= s.lastT {
			s.haveLast, s.lastT, s.lastMJ = true, x.TMonoNs, mJ
			return fmt.Errorf("%w: the meter's power is the counter's rate: first reading (or after a reset)", ErrHTTPSource)
		}
		x.PowerW = (mJ - s.lastMJ) / 1e3 / (float64(x.TMonoNs-s.lastT) / 1e9)
		x.PowerSource = bundle.PowerSourceMeterRate
		x.EnergyMJ, x.EnergySource = mJ, bundle.EnergySourceMeter
		s.lastT, s.lastMJ = x.TMonoNs, mJ
	}
	return checkReading(x.PowerW, x.EnergyMJ)
}
