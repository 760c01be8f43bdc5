package sim

import (
	"fmt"
	"math"
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
}

// Validate checks the configuration and the profile.
func (c *Config) Validate() error {
	if err := c.Profile.Validate(); err != nil {
		return err
	}
	if math.IsNaN(c.TimeScale) || math.IsInf(c.TimeScale, 0) || c.TimeScale < 0 {
		return fmt.Errorf("%w: time scale %g: want a positive number (0 = 1)", ErrInvalidConfig, c.TimeScale)
	}
	if c.TokensPerChunk < 0 {
		return fmt.Errorf("%w: tokens per chunk %d: must not be negative", ErrInvalidConfig, c.TokensPerChunk)
	}
	if c.KeepAliveTimeout < 0 {
		return fmt.Errorf("%w: keep-alive timeout %v: must not be negative", ErrInvalidConfig, c.KeepAliveTimeout)
	}
	if math.IsNaN(c.AccuracyErrorRate) || c.AccuracyErrorRate < 0 || c.AccuracyErrorRate > 1 {
		return fmt.Errorf("%w: accuracy error rate %g: want 0 to 1", ErrInvalidConfig, c.AccuracyErrorRate)
	}
	return c.Faults.Validate()
}

func (c *Config) timeScale() float64 {
	if c.TimeScale == 0 {
		return 1
	}
	return c.TimeScale
}

func (c *Config) tokensPerChunk() int { return max(c.TokensPerChunk, 1) }

func (c *Config) keepAlive() time.Duration {
	if c.KeepAliveTimeout == 0 {
		return DefaultKeepAliveTimeout
	}
	return c.KeepAliveTimeout
}
