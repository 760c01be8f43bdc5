package power

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/bundle"
)

// maxRedfishBody bounds one Redfish reply: a chassis resource is a few
// kilobytes.
const maxRedfishBody = 1 << 20

// RedfishConfig points a RedfishSource at a BMC.
type RedfishConfig struct {
	// URL is the BMC's base URL, "https://bmc.example"; the service lives
	// under /redfish/v1/. Plain http is refused: the credentials would
	// travel in clear.
	URL string
	// Chassis is the chassis' Id ("1U", "Self"); "" takes the only chassis
	// and refuses a BMC with several.
	Chassis string
	// Username and Password are the BMC account's (LoadCredentials reads
	// them from a file; never from the command line).
	Username, Password string
	// Insecure skips TLS verification, for a BMC with a self-signed
	// certificate. NewRedfishSource logs it as a warning.
	Insecure bool
	// RootCAs, when set, are the CAs that sign the BMC's certificate
	// instead of the system's.
	RootCAs *x509.CertPool
	// IntegratePower ignores the BMC's energy counter and integrates its
	// power readings, for a BMC whose EnergykWh is too coarse for a window
	// (whole kWh): `agentwatt gpu sample` shows it as a counter that
	// changes rarely and disagrees with the integral.
	IntegratePower bool
	// Timeout bounds each request: 5 s by default. A BMC answers in
	// hundreds of milliseconds; the sampler's ReadTimeout bounds a whole
	// read too.
	Timeout time.Duration
}

// RedfishSource reads a node's power at its BMC through Redfish: the
// chassis' EnvironmentMetrics (PowerWatts, and EnergykWh or EnergyJoules
// where present) on a BMC that has them (Chassis v1.15 and later, with
// PowerSubsystem), else the legacy Chassis/{id}/Power
// PowerControl[].PowerConsumedWatts. Its boundary is the node: CPUs, fans,
// power supplies and GPUs together. Without an energy counter it
// integrates the readings itself (EnergySourceIntegrated). Each sample is
// series 0, the chassis. It is not safe for concurrent Reads; one Sampler
// owns it.
type RedfishSource struct {
	g       *httpGetter
	chassis string
	// metrics is EnvironmentMetrics' URL, power Power's: Read uses metrics
	// when set, else power.
	metrics, power *url.URL
	capacityW      float64
	integrate      bool
	integ          integrator
	note           string
}

var _ Source = (*RedfishSource)(nil)

// Credentials are a BMC's or meter's account, read from a file.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoadCredentials reads a credentials file, JSON
// {"username": "...", "password": "..."}, that group and others cannot
// read (a secret on the command line would be in every process listing).
func LoadCredentials(file string) (Credentials, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return Credentials{}, fmt.Errorf("credentials %s (mode %04o): group or others may read it; chmod 600 it", file, fi.Mode().Perm())
	}
	if fi.Size() > 64<<10 {
		return Credentials{}, fmt.Errorf("credentials %s: larger than 64 KiB", file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials: %w", err)
	}
	var c Credentials
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Credentials{}, fmt.Errorf("credentials %s: want {\"username\": ..., \"password\": ...}: %w", file, err)
	}
	if c.Username == "" {
		return Credentials{}, fmt.Errorf("credentials %s: no username", file)
	}
	return c, nil
}

// redfishRef is a Redfish link, {"@odata.id": "/redfish/v1/..."}.
type redfishRef struct {
	ID string `json:"@odata.id"`
}

type redfishCollection struct {
	Members []redfishRef `json:"Members"`
}

type redfishChassis struct {
	ID                 string      `json:"Id"`
	Power              *redfishRef `json:"Power"`
	PowerSubsystem     *redfishRef `json:"PowerSubsystem"`
	EnvironmentMetrics *redfishRef `json:"EnvironmentMetrics"`
}

type redfishPower struct {
	PowerControl []struct {
		MemberID           string   `json:"MemberId"`
		Name               string   `json:"Name"`
		PowerConsumedWatts *float64 `json:"PowerConsumedWatts"`
	} `json:"PowerControl"`
}

type redfishReading struct {
	Reading *float64 `json:"Reading"`
}

type redfishEnvironment struct {
	PowerWatts   *redfishReading `json:"PowerWatts"`
	EnergykWh    *redfishReading `json:"EnergykWh"`
	EnergyJoules *redfishReading `json:"EnergyJoules"`
}

type redfishPowerSubsystem struct {
	CapacityWatts *float64 `json:"CapacityWatts"`
}

// NewRedfishSource finds the chassis at the BMC and how to read its power.
func NewRedfishSource(ctx context.Context, cfg RedfishConfig, log zerolog.Logger) (*RedfishSource, error) {
	g, err := newHTTPGetter(cfg.URL, false, cfg.Insecure, cfg.RootCAs, cfg.Timeout, maxRedfishBody)
	if err != nil {
		return nil, fmt.Errorf("redfish: %w", err)
	}
	g.user, g.pass = cfg.Username, cfg.Password
	if cfg.Insecure {
		log.Warn().Str("bmc", g.origin.String()).Msg("redfish: TLS verification is OFF (--redfish-insecure): anyone on the path can read the BMC credentials and forge its power readings")
	}
	s := &RedfishSource{g: g, integrate: cfg.IntegratePower}
	if err := s.discover(ctx, cfg.Chassis); err != nil {
		g.close()
		return nil, err
	}
	return s, nil
}

func (s *RedfishSource) getJSON(ctx context.Context, ref string, v any) error {
	u, err := s.g.resolve(ref)
	if err != nil {
		return fmt.Errorf("redfish: %w", err)
	}
	body, err := s.g.get(ctx, u, "application/json")
	if err != nil {
		return fmt.Errorf("redfish: %w", err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("redfish: %w: GET %s: not a Redfish resource: %w", ErrHTTPSource, u.Path, err)
	}
	return nil
}

// discover picks the chassis and its power resource.
func (s *RedfishSource) discover(ctx context.Context, want string) error {
	var coll redfishCollection
	if err := s.getJSON(ctx, "/redfish/v1/Chassis", &coll); err != nil {
		return err
	}
	var ids []string
	ref := ""
	for _, m := range coll.Members {
		id := path.Base(strings.TrimRight(m.ID, "/"))
		ids = append(ids, id)
		if id == want || (want == "" && len(coll.Members) == 1) {
			ref = m.ID
		}
	}
	switch {
	case len(ids) == 0:
		return fmt.Errorf("redfish: %w: the BMC lists no chassis", ErrHTTPSource)
	case ref == "" && want == "":
		return fmt.Errorf("redfish: %w: the BMC has %d chassis (%s): name one with --redfish-chassis", ErrHTTPSource, len(ids), strings.Join(ids, ", "))
	case ref == "":
		return fmt.Errorf("redfish: %w: no chassis %q (the BMC has %s)", ErrHTTPSource, want, strings.Join(ids, ", "))
	}
	var ch redfishChassis
	if err := s.getJSON(ctx, ref, &ch); err != nil {
		return err
	}
	s.chassis = ch.ID
	if ch.PowerSubsystem != nil {
		var ps redfishPowerSubsystem
		if err := s.getJSON(ctx, ch.PowerSubsystem.ID, &ps); err == nil && ps.CapacityWatts != nil {
			s.capacityW = *ps.CapacityWatts
		}
	}
	if ch.EnvironmentMetrics != nil {
		var env redfishEnvironment
		if err := s.getJSON(ctx, ch.EnvironmentMetrics.ID, &env); err != nil {
			return err
		}
		if env.PowerWatts != nil && env.PowerWatts.Reading != nil {
			s.metrics, _ = s.g.resolve(ch.EnvironmentMetrics.ID)
			s.note = "redfish: chassis " + ch.ID + " EnvironmentMetrics PowerWatts"
			if s.capacityW > 0 {
				s.note += fmt.Sprintf(" (PowerSubsystem CapacityWatts %g)", s.capacityW)
			}
			switch {
			case s.integrate:
				s.note += ", energy integrated from the readings (the BMC's counter ignored by request)"
			case env.EnergyJoules != nil && env.EnergyJoules.Reading != nil:
				s.note += ", energy from EnergyJoules"
			case env.EnergykWh != nil && env.EnergykWh.Reading != nil:
				s.note += ", energy from EnergykWh"
			default:
				s.note += ", no energy counter: energy integrated from the readings"
			}
			return nil
		}
	}
	if ch.Power == nil {
		return fmt.Errorf("redfish: %w: chassis %s has neither EnvironmentMetrics PowerWatts nor Power", ErrHTTPSource, ch.ID)
	}
	s.power, _ = s.g.resolve(ch.Power.ID)
	var p redfishPower
	if err := s.getJSON(ctx, ch.Power.ID, &p); err != nil {
		return err
	}
	if _, _, err := powerControl(&p); err != nil {
		return fmt.Errorf("redfish: chassis %s: %w", ch.ID, err)
	}
	s.note = "redfish: chassis " + ch.ID + " Power PowerControl PowerConsumedWatts, no energy counter: energy integrated from the readings"
	return nil
}

// powerControl is the first PowerControl entry with a reading: the
// chassis' total (BMCs that list sub-domains list the total first).
func powerControl(p *redfishPower) (float64, string, error) {
	for _, c := range p.PowerControl {
		if c.PowerConsumedWatts != nil {
			return *c.PowerConsumedWatts, c.MemberID, nil
		}
	}
	return 0, "", fmt.Errorf("%w: Power has no PowerControl entry with PowerConsumedWatts", ErrHTTPSource)
}

// Name is "redfish".
func (s *RedfishSource) Name() string { return "redfish" }

// Boundary is BoundaryNode.
func (s *RedfishSource) Boundary() string { return BoundaryNode }

// Chassis is the chassis read.
func (s *RedfishSource) Chassis() string { return s.chassis }

// CapacityWatts is the PowerSubsystem's CapacityWatts; 0 where absent.
func (s *RedfishSource) CapacityWatts() float64 { return s.capacityW }

// Close drops idle connections.
func (s *RedfishSource) Close() error {
	s.g.close()
	return nil
}

// Read fetches one reading of the chassis. A BMC that cannot be reached,
// refuses, or answers with something that is not a reading gives a failed
// sample (the sampler counts gaps from them).
func (s *RedfishSource) Read(ctx context.Context, clk Clock) ([]Sample, error) {
	var x Sample
	t0 := clk.Now()
	err := s.read(ctx, &x)
	t1 := clk.Now()
	x.GPU, x.ReadNs, x.TMonoNs = 0, t1-t0, t0+(t1-t0)/2
	x.TUnixNs = clk.UnixNano(x.TMonoNs)
	if err != nil {
		x.Err = err.Error()
		x.EnergyMJ, x.PowerW = 0, 0
	} else if x.EnergySource == bundle.EnergySourceIntegrated {
		x.EnergyMJ = s.integ.add(x.TMonoNs, x.PowerW)
	}
	if s.note != "" {
		x.Note, s.note = s.note, ""
	}
	return []Sample{x}, nil
}

func (s *RedfishSource) read(ctx context.Context, x *Sample) error {
	if s.metrics != nil {
		var env redfishEnvironment
		if err := s.getJSON(ctx, s.metrics.Path, &env); err != nil {
			return err
		}
		if env.PowerWatts == nil || env.PowerWatts.Reading == nil {
			return fmt.Errorf("redfish: %w: EnvironmentMetrics without PowerWatts.Reading", ErrHTTPSource)
		}
		x.PowerW, x.PowerSource = *env.PowerWatts.Reading, bundle.PowerSourceRedfishMetrics
		x.EnergySource = bundle.EnergySourceIntegrated
		switch {
		case s.integrate:
		case env.EnergyJoules != nil && env.EnergyJoules.Reading != nil:
			x.EnergyMJ, x.EnergySource = *env.EnergyJoules.Reading*1e3, bundle.EnergySourceRedfishKWh
		case env.EnergykWh != nil && env.EnergykWh.Reading != nil:
			x.EnergyMJ, x.EnergySource = *env.EnergykWh.Reading*3.6e9, bundle.EnergySourceRedfishKWh
		}
	} else {
		var p redfishPower
		if err := s.getJSON(ctx, s.power.Path, &p); err != nil {
			return err
		}
		w, _, err := powerControl(&p)
		if err != nil {
			return fmt.Errorf("redfish: %w", err)
		}
		x.PowerW, x.PowerSource, x.EnergySource = w, bundle.PowerSourceRedfishControl, bundle.EnergySourceIntegrated
	}
	return checkReading(x.PowerW, x.EnergyMJ)
}

// checkReading refuses values no meter gives: negative, not finite, or a
// node above 10 MW.
func checkReading(w, mJ float64) error {
	switch {
	case math.IsNaN(w) || math.IsInf(w, 0) || w < 0 || w > 1e7:
		return fmt.Errorf("%w: power reading %v W is not a plausible reading", ErrHTTPSource, w)
	case math.IsNaN(mJ) || math.IsInf(mJ, 0) || mJ < 0:
		return fmt.Errorf("%w: energy reading %v mJ is not a plausible reading", ErrHTTPSource, mJ)
	}
	return nil
}
