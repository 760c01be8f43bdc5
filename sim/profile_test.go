package sim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultProfiles(t *testing.T) {
	ps := DefaultProfiles()
	for _, name := range []string{"tiny", "h200x8-like", "b300x8-like", "unlimited"} {
		p, err := LookupProfile(ps, name)
		if err != nil {
			t.Fatalf("LookupProfile(%q): %v", name, err)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("profile %q: %v", name, err)
		}
		if !strings.Contains(p.Description, "SIMULATED") {
			t.Errorf("profile %q: description %q does not say SIMULATED", name, p.Description)
		}
	}
	u, _ := LookupProfile(ps, "unlimited")
	if u.KVCapacityTokens != 0 || u.MaxNumSeqs != 0 || u.MaxNumBatchedTokens != 0 {
		t.Errorf("unlimited profile has limits: %+v", u)
	}
	if _, err := LookupProfile(ps, "nope"); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("LookupProfile(nope) = %v, want ErrUnknownProfile", err)
	}
}

func TestLoadProfilesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, embeddedProfiles, 0o600); err != nil {
		t.Fatal(err)
	}
	ps, err := LoadProfiles(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(ps), len(DefaultProfiles()); got != want {
		t.Errorf("loaded %d profiles, want %d", got, want)
	}
	if _, err := LoadProfiles(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("LoadProfiles(missing) succeeded")
	}
}

const validProfileYAML = `version: 1
profiles:
  - name: t
    served_model: m
    gpus: 1
    max_model_len: 64
    kv_capacity_tokens: 128
    block_size: 16
    prefix_cache: true
    max_num_seqs: 4
    max_num_batched_tokens: 64
    step:
      base_us: 1000
      per_seq_us: 10
      per_context_token_ns: 1
      per_prefill_token_us: 1
    output:
      natural_mean_tokens: 8
    power:
      idle_w: 10
      dynamic_w: 20
      busy_floor: 0.5
      saturation_tokens: 64
      smoothing_ms: 0
      spread_pct: 0
`

func TestParseProfilesErrors(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		wantPos  string // FILE:LINE:COL prefix
		wantText string
	}{
		{"unknown field", strings.Replace(validProfileYAML, "    gpus: 1\n", "    gpus: 1\n    gpu_count: 2\n", 1), "f.yaml:6:", "gpu_count"},
		{"wrong type", strings.Replace(validProfileYAML, "gpus: 1", "gpus: many", 1), "f.yaml:5:", ""},
		{"bad value", strings.Replace(validProfileYAML, "gpus: 1", "gpus: 0", 1), "f.yaml:5:11", "gpus"},
		{"nested bad value", strings.Replace(validProfileYAML, "busy_floor: 0.5", "busy_floor: 1.5", 1), "f.yaml:22:19", "power.busy_floor"},
		{"kv smaller than context", strings.Replace(validProfileYAML, "kv_capacity_tokens: 128", "kv_capacity_tokens: 32", 1), "f.yaml:7:25", "kv_capacity_tokens"},
		{"bad version", strings.Replace(validProfileYAML, "version: 1", "version: 2", 1), "f.yaml:1:10", "version"},
		{"duplicate name", validProfileYAML + strings.Replace(strings.SplitN(validProfileYAML, "profiles:\n", 2)[1], "", "", 1), "f.yaml:", "defined twice"},
		{"syntax", "version: 1\nprofiles: [\n", "f.yaml:", ""},
		{"version speed zero", validProfileYAML + versionsYAML("\"2\"", "0", "1"), "f.yaml:28:16", "versions[0].speed"},
		{"version power NaN", validProfileYAML + versionsYAML("\"2\"", "1", ".nan"), "f.yaml:29:24", "versions[0].dynamic_power"},
		{"version empty", validProfileYAML + versionsYAML("\"\"", "1", "1"), "f.yaml:27:18", "versions[0].version"},
		{"version with a space", validProfileYAML + versionsYAML("\"2 beta\"", "1", "1"), "f.yaml:27:18", "versions[0].version"},
		{"version twice", validProfileYAML + versionsYAML("\"2\"", "1", "1") + strings.SplitN(versionsYAML("\"2\"", "1", "1"), "\n", 2)[1], "f.yaml:30:18", "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProfiles("f.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("ParseProfiles succeeded, want an error")
			}
			if !errors.Is(err, ErrInvalidProfile) {
				t.Errorf("error %v is not ErrInvalidProfile", err)
			}
			if !strings.HasPrefix(err.Error(), tt.wantPos) {
				t.Errorf("error %q does not start with %q", err, tt.wantPos)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not mention %q", err, tt.wantText)
			}
		})
	}
	if _, err := ParseProfiles("f.yaml", []byte(validProfileYAML)); err != nil {
		t.Errorf("valid profile: %v", err)
	}
	if _, err := ParseProfiles("f.yaml", []byte(validProfileYAML+versionsYAML("\"2\"", "0.8", "1.25"))); err != nil {
		t.Errorf("valid profile with versions: %v", err)
	}
}

// versionsYAML is a versions list of one entry for validProfileYAML's
// profile.
func versionsYAML(version, speed, power string) string {
	return "    versions:\n      - version: " + version + "\n        speed: " + speed + "\n        dynamic_power: " + power + "\n"
}

// TestProfileAtVersion: a listed version scales every step cost and the
// dynamic power; any other version, and the empty one, run the profile as
// written (the numbers of results at existing versions do not move).
func TestProfileAtVersion(t *testing.T) {
	p, err := DefaultProfile("tiny")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Versions) == 0 || p.Versions[0].Version != "2" {
		t.Fatalf("tiny lists versions %+v, want a simulated release 2", p.Versions)
	}
	vs := p.Versions[0]
	v2 := p.AtVersion("2")
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"base_us", v2.Step.BaseUS, p.Step.BaseUS / vs.Speed},
		{"per_seq_us", v2.Step.PerSeqUS, p.Step.PerSeqUS / vs.Speed},
		{"per_context_token_ns", v2.Step.PerContextTokenNS, p.Step.PerContextTokenNS / vs.Speed},
		{"per_prefill_token_us", v2.Step.PerPrefillTokenUS, p.Step.PerPrefillTokenUS / vs.Speed},
		{"dynamic_w", v2.Power.DynamicW, p.Power.DynamicW * vs.DynamicPower},
		{"idle_w", v2.Power.IdleW, p.Power.IdleW},
	} {
		if c.got != c.want {
			t.Errorf("at 2: %s = %g, want %g", c.name, c.got, c.want)
		}
	}
	if len(v2.Versions) != 1 || v2.Versions[0] != vs {
		t.Errorf("at 2: versions %+v, want only the applied %+v", v2.Versions, vs)
	}
	for _, v := range []string{"", "1", "2.0", "02"} {
		got := p.AtVersion(v)
		if got.Step != p.Step || got.Power != p.Power || len(got.Versions) != 0 {
			t.Errorf("at %q: step %+v power %+v versions %+v, want the profile as written", v, got.Step, got.Power, got.Versions)
		}
	}
}

func FuzzParseProfiles(f *testing.F) {
	f.Add(validProfileYAML)
	f.Add(string(embeddedProfiles))
	f.Add("version: 1\nprofiles: []\n")
	f.Add("{")
	f.Add(validProfileYAML + versionsYAML("\"2\"", "0.8", "1.25"))
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseProfiles("fuzz.yaml", []byte(s))
		if err != nil {
			if !errors.Is(err, ErrInvalidProfile) {
				t.Fatalf("error %v is not ErrInvalidProfile", err)
			}
			return
		}
		for _, p := range ps {
			if err := p.Validate(); err != nil {
				t.Fatalf("parsed profile fails Validate: %v", err)
			}
		}
	})
}
