package sim

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// DefaultKeepAliveTimeout is how long an idle client connection stays open:
// 5 s, as vLLM's uvicorn server does. Clients should keep their own idle
// timeout shorter.
const DefaultKeepAliveTimeout = 5 * time.Second

// Config configures a Server.
type Config struct {
	// Profile is the simulated system (see LoadProfiles).
	Profile Profile
	// FrameworkVersion is the framework.version the sim plays: the server
	// runs Profile.AtVersion(FrameworkVersion). Empty or not listed in the
	// profile's versions: the profile as written.
	FrameworkVersion string
	// Seed makes output text, natural lengths, faults, power spread and the
	// oracle's errors reproducible.
	Seed int64
	// TimeScale is virtual seconds per real second; 0 means 1 (real time).
	// 10 runs the engine ten times faster than the profile says.
	TimeScale float64
	// TokensPerChunk is how many tokens one content chunk carries (like
	// vLLM's --stream-interval); 0 means 1.
	TokensPerChunk int
	// OmitCachedTokens leaves usage.prompt_tokens_details out, like vLLM
	// without --enable-prompt-tokens-details.
	OmitCachedTokens bool
	// KeepAliveTimeout for idle connections; 0 means DefaultKeepAliveTimeout.
	KeepAliveTimeout time.Duration
	// Faults to inject.
	Faults Faults
	// Accuracy, when set, turns on the accuracy oracle.
	Accuracy *AccuracySet
	// AccuracyErrorRate is the share of accuracy questions answered with a
	// wrong final number, in [0, 1].
	AccuracyErrorRate float64
	// SpecAccept, when above 0, turns on simulated speculative decoding:
	// GET /metrics serves vLLM's spec_decode counters with this share of
	// draft tokens accepted, in (0, 1]. 0: no speculative decoding.
	SpecAccept float64
}

// Validate checks a config as the caller set it (a zero field means its
// default) and its profile; each error names the field. It changes nothing.
func (c Config) Validate() error {
	var errs []error
	if err := c.Profile.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.FrameworkVersion) > maxVersionLen || strings.ContainsFunc(c.FrameworkVersion, isSpaceOrControl) {
		errs = append(errs, fmt.Errorf("%w: FrameworkVersion %q: want at most %d characters without spaces", ErrInvalidConfig, c.FrameworkVersion, maxVersionLen))
	}
	if math.IsNaN(c.TimeScale) || math.IsInf(c.TimeScale, 0) || c.TimeScale < 0 {
		errs = append(errs, fmt.Errorf("%w: TimeScale %g: want a positive number (0: 1)", ErrInvalidConfig, c.TimeScale))
	}
	if c.TokensPerChunk < 0 {
		errs = append(errs, fmt.Errorf("%w: TokensPerChunk %d: must not be negative (0: 1)", ErrInvalidConfig, c.TokensPerChunk))
	}
	if c.KeepAliveTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: KeepAliveTimeout %v: must not be negative (0: %v)", ErrInvalidConfig, c.KeepAliveTimeout, DefaultKeepAliveTimeout))
	}
	if math.IsNaN(c.AccuracyErrorRate) || c.AccuracyErrorRate < 0 || c.AccuracyErrorRate > 1 {
		errs = append(errs, fmt.Errorf("%w: AccuracyErrorRate %g: want 0 to 1", ErrInvalidConfig, c.AccuracyErrorRate))
	}
	if math.IsNaN(c.SpecAccept) || c.SpecAccept < 0 || c.SpecAccept > 1 {
		errs = append(errs, fmt.Errorf("%w: SpecAccept %g: want 0 (off) to 1", ErrInvalidConfig, c.SpecAccept))
	}
	if err := c.Faults.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero fields with their defaults.
func (c Config) withDefaults() Config {
	c.Profile = c.Profile.AtVersion(c.FrameworkVersion)
	if c.TimeScale == 0 {
		c.TimeScale = 1
	}
	if c.TokensPerChunk == 0 {
		c.TokensPerChunk = 1
	}
	if c.KeepAliveTimeout == 0 {
		c.KeepAliveTimeout = DefaultKeepAliveTimeout
	}
	return c
}
