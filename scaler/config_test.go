package scaler

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseFile(t *testing.T) {
	data, err := os.ReadFile("testdata/scaler.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile("scaler.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if f.Interval != 15*time.Second || f.Cooldown != 10*time.Minute || f.AWS.Region != "us-east-1" || len(f.Pools) != 2 {
		t.Fatalf("got %+v", f)
	}
	if p := f.Pools[0]; p != (PoolFile{Name: "h200x8", Min: 0, Max: 4, Backend: BackendAWS, Group: "agentwatt-h200x8"}) {
		t.Errorf("pool 0: %+v", p)
	}
	if p := f.Pools[1]; p != (PoolFile{Name: "h100x1", Max: 2, Backend: BackendNone}) {
		t.Errorf("pool 1: %+v", p)
	}
}

func TestParseFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"unknown field", "pools:\n  - name: sim\n    max: 1\n    maxx: 2\n", "f.yaml:4:5: "},
		{"bad duration", "cooldown: soon\npools:\n  - name: sim\n    max: 1\n", "f.yaml:1:11: cooldown: \"soon\""},
		{"tiny interval", "interval: 1ms\npools:\n  - name: sim\n    max: 1\n", "f.yaml:1:11: interval: 1ms"},
		{"no pools", "interval: 15s\n", "f.yaml:1:1: no pools"},
		{"bad pool", "pools:\n  - name: H200\n    max: 1\n", "f.yaml:2:11: pools[0].name: \"H200\""},
		{"twice", "pools:\n  - name: sim\n    max: 1\n  - name: sim\n    max: 1\n", "f.yaml:4:11: pools[1].name: \"sim\" is listed twice"},
		{"min above max", "pools:\n  - name: sim\n    min: 3\n    max: 2\n", "f.yaml:3:10: pools[0].min: 3 is above max 2"},
		{"no max", "pools:\n  - name: sim\n", "f.yaml:2:9: pools[0].max: 0"},
		{"aws without group", "pools:\n  - name: sim\n    max: 1\n    backend: aws\n", "f.yaml:2:9: pools[0].group: \"\""},
		{"group without aws", "pools:\n  - name: sim\n    max: 1\n    group: g\n", "f.yaml:4:12: pools[0].group: a group needs backend: aws"},
		{"bad backend", "pools:\n  - name: sim\n    max: 1\n    backend: gcp\n", "f.yaml:4:14: pools[0].backend: \"gcp\""},
		{"bad region", "aws:\n  region: Mars\npools:\n  - name: sim\n    max: 1\n", "f.yaml:2:11: aws.region: \"Mars\""},
		{"bad endpoint", "aws:\n  endpoint: ftp://x\npools:\n  - name: sim\n    max: 1\n", "f.yaml:2:13: aws.endpoint: \"ftp://x\""},
		{"alias", "a: &x 1\npools:\n  - name: sim\n    max: *x\n", "aliases"},
		{"duplicate key", "pools:\n  - name: sim\n    max: 1\n    max: 2\n", "f.yaml:4:5: "},
		{"wrong type", "pools:\n  - name: sim\n    max: many\n", "f.yaml:3:10: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile("f.yaml", []byte(tc.in))
			var fe *FileError
			if !errors.As(err, &fe) || !errors.Is(err, ErrFile) {
				t.Fatalf("err %v, want a *FileError", err)
			}
			if got := err.Error(); !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

// FuzzParseFile: any input gives a file or a *FileError, never a panic,
// and a file it accepts is within bounds.
func FuzzParseFile(f *testing.F) {
	seed, _ := os.ReadFile("testdata/scaler.yaml")
	f.Add(seed)
	f.Add([]byte("pools:\n  - name: sim\n    max: 1\n"))
	f.Add([]byte("a: &x [1]\npools: *x\n"))
	f.Add([]byte("pools: [{name: sim, max: 3, backend: aws, group: g}]\ncooldown: -1s\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile("fuzz.yaml", data)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || fe.Line < 1 || fe.Col < 0 {
				t.Fatalf("error %v (%T) is not a placed *FileError", err, err)
			}
			return
		}
		for _, p := range file.Pools {
			if p.Min < 0 || p.Max < 1 || p.Min > p.Max || (p.Backend == BackendAWS) != (p.Group != "") {
				t.Fatalf("accepted pool %+v", p)
			}
		}
		if file.Interval < 0 || file.Cooldown < 0 {
			t.Fatalf("accepted durations %v %v", file.Interval, file.Cooldown)
		}
	})
}
