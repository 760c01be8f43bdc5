package sim

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

//go:embed profiles.yaml
var embeddedProfiles []byte

// EmbeddedProfilesName is the source name used in errors about the embedded
// profile file.
const EmbeddedProfilesName = "sim/profiles.yaml"

// Profile describes one simulated serving system: its capacity, its step cost
// model and its power model. All numbers are made up to look plausible; a
// profile never describes measured hardware.
type Profile struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description"`
	// ServedModel is the model name /v1/models lists and requests must use.
	ServedModel string `yaml:"served_model" json:"served_model"`
	// GPUs is the number of virtual GPUs in /sim/v1/power.
	GPUs int `yaml:"gpus" json:"gpus"`
	// MaxModelLen is the context window: prompt + max_tokens must fit.
	MaxModelLen int `yaml:"max_model_len" json:"max_model_len"`
	// KVCapacityTokens is the KV cache size in tokens; 0 means unlimited
	// (never preempts).
	KVCapacityTokens int `yaml:"kv_capacity_tokens" json:"kv_capacity_tokens"`
	// BlockSize is the KV block size in tokens, also the prefix-cache unit.
	BlockSize int `yaml:"block_size" json:"block_size"`
	// PrefixCache turns prefix caching on.
	PrefixCache bool `yaml:"prefix_cache" json:"prefix_cache"`
	// IdleCacheTokens bounds the tokens kept in freed, cached blocks when the
	// KV capacity is unlimited (with a limit, free KV memory bounds it).
	IdleCacheTokens int `yaml:"idle_cache_tokens" json:"idle_cache_tokens"`
	// MaxNumSeqs caps the running batch; 0 means unlimited.
	MaxNumSeqs int `yaml:"max_num_seqs" json:"max_num_seqs"`
	// MaxNumBatchedTokens is the per-step token budget (chunked prefill);
	// 0 means unlimited.
	MaxNumBatchedTokens int         `yaml:"max_num_batched_tokens" json:"max_num_batched_tokens"`
	Step                StepCost    `yaml:"step" json:"step"`
	Output              OutputModel `yaml:"output" json:"output"`
	Power               PowerModel  `yaml:"power" json:"power"`
	// Versions change the profile for named framework versions (see
	// AtVersion); a version not listed runs the profile as written.
	Versions []VersionScale `yaml:"versions,omitempty" json:"versions,omitempty"`
	// Rack, when set, makes the profile a simulated rack: its GPUs are
	// split among member nodes, each a prefill or a decode pool (see Rack).
	Rack *Rack `yaml:"rack,omitempty" json:"rack,omitempty"`
}

// StepCost is the time of one engine step:
//
//	base + per_seq × sequences in the step + per_context_token × Σ context of
//	those sequences + per_prefill_token × prefill tokens in the step.
type StepCost struct {
	BaseUS            float64 `yaml:"base_us" json:"base_us"`
	PerSeqUS          float64 `yaml:"per_seq_us" json:"per_seq_us"`
	PerContextTokenNS float64 `yaml:"per_context_token_ns" json:"per_context_token_ns"`
	PerPrefillTokenUS float64 `yaml:"per_prefill_token_us" json:"per_prefill_token_us"`
}

// OutputModel shapes outputs that are not forced by ignore_eos.
type OutputModel struct {
	// NaturalMeanTokens is the mean of the seeded "natural" output length
	// (1 + exponential), clamped to [min_tokens, max_tokens].
	NaturalMeanTokens float64 `yaml:"natural_mean_tokens" json:"natural_mean_tokens"`
}

// PowerModel gives each virtual GPU power = idle_w + dynamic_w × u, where u is
// the utilisation of the current step — busy_floor + (1 − busy_floor) ×
// min(1, tokens in the step / saturation_tokens) — and 0 when idle, passed
// through a first-order low-pass with time constant smoothing_ms. Per-GPU
// idle and dynamic watts are spread ± spread_pct around the profile's values,
// deterministically from the seed.
type PowerModel struct {
	IdleW            float64 `yaml:"idle_w" json:"idle_w"`
	DynamicW         float64 `yaml:"dynamic_w" json:"dynamic_w"`
	BusyFloor        float64 `yaml:"busy_floor" json:"busy_floor"`
	SaturationTokens int     `yaml:"saturation_tokens" json:"saturation_tokens"`
	SmoothingMS      float64 `yaml:"smoothing_ms" json:"smoothing_ms"`
	SpreadPct        float64 `yaml:"spread_pct" json:"spread_pct"`
}

type profileFile struct {
	Version  int       `yaml:"version"`
	Profiles []Profile `yaml:"profiles"`
}

// ProfileError is a problem in a profile file, with its position.
type ProfileError struct {
	File   string
	Line   int
	Column int
	Path   string // YAML path, e.g. $.profiles[0].gpus
	Msg    string
}

func (e *ProfileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *ProfileError) Unwrap() error { return ErrInvalidProfile }

// DefaultProfiles returns the embedded profiles (tiny, h200x8-like,
// b300x8-like, unlimited).
func DefaultProfiles() []Profile {
	ps, err := ParseProfiles(EmbeddedProfilesName, embeddedProfiles)
	if err != nil {
		panic("embedded sim profiles: " + err.Error())
	}
	return ps
}

// LoadProfiles reads a profile file; an empty path means the embedded one.
func LoadProfiles(path string) ([]Profile, error) {
	if path == "" {
		return DefaultProfiles(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read sim profiles: %w", err)
	}
	return ParseProfiles(path, data)
}

// LookupProfile returns the profile called name.
func LookupProfile(profiles []Profile, name string) (Profile, error) {
	names := make([]string, 0, len(profiles))
	for _, p := range profiles {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return Profile{}, fmt.Errorf("%w %q (have %s)", ErrUnknownProfile, name, strings.Join(names, ", "))
}

// DefaultProfile returns an embedded profile by name.
func DefaultProfile(name string) (Profile, error) { return LookupProfile(DefaultProfiles(), name) }

// ParseProfiles decodes and validates a profile file. source names it in
// errors, which carry FILE:LINE:COL.
func ParseProfiles(source string, data []byte) ([]Profile, error) {
	var pf profileFile
	if err := yaml.UnmarshalWithOptions(data, &pf, yaml.DisallowUnknownField()); err != nil {
		pe := &ProfileError{File: source, Msg: err.Error()}
		var ye yaml.Error
		if errors.As(err, &ye) {
			pe.Msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				pe.Line, pe.Column = tk.Position.Line, tk.Position.Column
			}
		}
		return nil, pe
	}
	at := func(path, format string, args ...any) error {
		pe := &ProfileError{File: source, Path: path, Msg: fmt.Sprintf(format, args...)}
		pe.Line, pe.Column = yamlPosition(data, path)
		return pe
	}
	if pf.Version != 1 {
		return nil, at("$.version", "version %d: want 1", pf.Version)
	}
	if len(pf.Profiles) == 0 {
		return nil, at("$.profiles", "no profiles")
	}
	seen := map[string]bool{}
	for i := range pf.Profiles {
		p := &pf.Profiles[i]
		base := fmt.Sprintf("$.profiles[%d]", i)
		if field, msg := p.check(); field != "" {
			return nil, at(base+"."+field, "profile %q: %s", p.Name, msg)
		}
		if seen[p.Name] {
			return nil, at(base+".name", "profile %q defined twice", p.Name)
		}
		seen[p.Name] = true
	}
	return pf.Profiles, nil
}

// Validate checks a profile built in code.
func (p *Profile) Validate() error {
	if field, msg := p.check(); field != "" {
		return fmt.Errorf("%w: profile %q: %s: %s", ErrInvalidProfile, p.Name, field, msg)
	}
	return nil
}

var profileNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// check returns the first invalid field (YAML path below the profile) and why.
func (p *Profile) check() (field, msg string) {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	nonNeg := func(v float64) bool { return finite(v) && v >= 0 }
	switch {
	case !profileNameRE.MatchString(p.Name):
		return "name", "want lower-case letters, digits, '.', '_' or '-'"
	case p.ServedModel == "":
		return "served_model", "required"
	case p.GPUs < 1 || p.GPUs > 1024:
		return "gpus", fmt.Sprintf("%d: want 1 to 1024", p.GPUs)
	case p.MaxModelLen < 16:
		return "max_model_len", fmt.Sprintf("%d: want at least 16", p.MaxModelLen)
	case p.BlockSize < 1 || p.BlockSize > 4096:
		return "block_size", fmt.Sprintf("%d: want 1 to 4096", p.BlockSize)
	case p.KVCapacityTokens < 0:
		return "kv_capacity_tokens", "must not be negative (0 = unlimited)"
	case p.KVCapacityTokens > 0 && p.KVCapacityTokens/p.BlockSize < (p.MaxModelLen+p.BlockSize-1)/p.BlockSize:
		return "kv_capacity_tokens", fmt.Sprintf("%d: must hold at least one max_model_len (%d) sequence in whole blocks", p.KVCapacityTokens, p.MaxModelLen)
	case p.IdleCacheTokens < 0:
		return "idle_cache_tokens", "must not be negative"
	case p.MaxNumSeqs < 0:
		return "max_num_seqs", "must not be negative (0 = unlimited)"
	case p.MaxNumBatchedTokens < 0:
		return "max_num_batched_tokens", "must not be negative (0 = unlimited)"
	case !finite(p.Step.BaseUS) || p.Step.BaseUS <= 0:
		return "step.base_us", "must be positive"
	case !nonNeg(p.Step.PerSeqUS):
		return "step.per_seq_us", "must not be negative"
	case !nonNeg(p.Step.PerContextTokenNS):
		return "step.per_context_token_ns", "must not be negative"
	case !nonNeg(p.Step.PerPrefillTokenUS):
		return "step.per_prefill_token_us", "must not be negative"
	case !finite(p.Output.NaturalMeanTokens) || p.Output.NaturalMeanTokens <= 0:
		return "output.natural_mean_tokens", "must be positive"
	case !nonNeg(p.Power.IdleW):
		return "power.idle_w", "must not be negative"
	case !nonNeg(p.Power.DynamicW):
		return "power.dynamic_w", "must not be negative"
	case !finite(p.Power.BusyFloor) || p.Power.BusyFloor < 0 || p.Power.BusyFloor > 1:
		return "power.busy_floor", "want 0 to 1"
	case p.Power.SaturationTokens < 1:
		return "power.saturation_tokens", "must be at least 1"
	case !nonNeg(p.Power.SmoothingMS):
		return "power.smoothing_ms", "must not be negative"
	case !finite(p.Power.SpreadPct) || p.Power.SpreadPct < 0 || p.Power.SpreadPct >= 50:
		return "power.spread_pct", "want 0 to <50"
	}
	if f, m := p.checkVersions(); f != "" {
		return f, m
	}
	if p.Rack != nil {
		return p.Rack.check(p.GPUs)
	}
	return "", ""
}

// yamlPosition finds the line and column of a YAML path, falling back to the
// nearest existing parent; 0, 0 if none is found.
func yamlPosition(data []byte, path string) (line, col int) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return 0, 0
	}
	for p := path; p != "" && p != "$"; {
		if yp, err := yaml.PathString(p); err == nil {
			if n, err := yp.FilterFile(f); err == nil && n != nil {
				if tk := n.GetToken(); tk != nil && tk.Position != nil {
					return tk.Position.Line, tk.Position.Column
				}
			}
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return 0, 0
}
