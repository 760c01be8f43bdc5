package verifiertest

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// BuiltInfo is what BuildCached writes beside a bundle (DIR.json) so that a
// later run can use the bundle without building it again: the options it
// was built with and what Build returned besides the files. The key is a
// throwaway test key.
type BuiltInfo struct {
	Agents        int           `json:"agents"`
	Window        time.Duration `json:"window"`
	Seed          uint64        `json:"seed"`
	Profile       string        `json:"profile"`
	Repeat        int           `json:"repeat"`
	Completion    bool          `json:"completion_order"`
	Job           string        `json:"job"`
	Attempt       int           `json:"attempt"`
	KeySeed       string        `json:"key_seed"` // hex of the ed25519 seed
	Records       int           `json:"records"`
	ConfirmWindow [2]int64      `json:"confirm_window"`
}

// BuildCached is Build for benchmarks: a bundle built before into dir with
// the same options is used again; otherwise dir is replaced by a fresh
// build. Options.Answers must be nil (the default answers are rebuilt).
func BuildCached(ctx context.Context, dir string, o Options) (*Bundle, error) {
	if o.Answers != nil || o.Group.Members > 0 {
		return nil, fmt.Errorf("verifiertest: BuildCached takes the default answers and one host only")
	}
	want := BuiltInfo{Agents: o.Agents, Window: o.Window, Seed: o.Seed, Profile: o.Profile, Repeat: o.Repeat, Completion: o.CompletionOrder, Job: o.Job, Attempt: o.Attempt}
	if b, err := Reopen(dir); err == nil {
		if info, _ := readInfo(dir); info.sameOptions(want) {
			return b, nil
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if o.Key == nil {
		_, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			return nil, err
		}
		o.Key = priv
	}
	b, err := Build(ctx, dir, o)
	if err != nil {
		return nil, err
	}
	want.KeySeed = hex.EncodeToString(b.Key.Seed())
	want.Records, want.ConfirmWindow = b.Records, b.ConfirmWindow
	data, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		return nil, err
	}
	tmp := infoPath(dir) + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return nil, err
	}
	return b, os.Rename(tmp, infoPath(dir))
}

// Reopen is a bundle BuildCached built into dir.
func Reopen(dir string) (*Bundle, error) {
	info, err := readInfo(dir)
	if err != nil {
		return nil, err
	}
	seed, err := hex.DecodeString(info.KeySeed)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s: bad key seed", infoPath(dir))
	}
	data, err := os.ReadFile(filepath.Join(dir, bundle.SummaryFile))
	if err != nil {
		return nil, err
	}
	sum, err := bundle.DecodeSummary(data)
	if err != nil {
		return nil, err
	}
	wl, err := workload.LoadBytes(workload.DefaultBytes())
	if err != nil {
		return nil, err
	}
	rules, err := spec.LoadRules("v1")
	if err != nil {
		return nil, err
	}
	profile := info.Profile
	if profile == "" {
		profile = "test"
	}
	prof, err := rules.Profile(profile)
	if err != nil {
		return nil, err
	}
	key := ed25519.NewKeyFromSeed(seed)
	b := &Bundle{Dir: dir, Job: info.Job, Attempt: info.Attempt, Key: key, Trusted: bundle.Trusted(key.Public().(ed25519.PublicKey)),
		Workload: wl, Answers: map[int]string{}, Summary: sum, ConfirmWindow: info.ConfirmWindow, Records: info.Records}
	if b.Job == "" {
		b.Job = "job-test-0001"
	}
	if b.Attempt <= 0 {
		b.Attempt = 1
	}
	for id := 0; id < prof.AccuracyQuestions; id++ {
		b.Answers[id] = defaultAnswer(id)
	}
	return b, nil
}

func infoPath(dir string) string { return filepath.Clean(dir) + ".json" }

func readInfo(dir string) (BuiltInfo, error) {
	var info BuiltInfo
	data, err := os.ReadFile(infoPath(dir))
	if err != nil {
		return info, err
	}
	return info, json.Unmarshal(data, &info)
}

func (i BuiltInfo) sameOptions(o BuiltInfo) bool {
	return i.Agents == o.Agents && i.Window == o.Window && i.Seed == o.Seed && i.Profile == o.Profile &&
		i.Repeat == o.Repeat && i.Completion == o.Completion && i.Job == o.Job && i.Attempt == o.Attempt
}
