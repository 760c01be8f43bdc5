package verifier

import (
	"bytes"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/bundle"
)

func FuzzDecodePowerLines(f *testing.F) {
	f.Add([]byte("{\"gpu\":0,\"t_mono_ns\":1,\"energy_mj\":2,\"power_w\":3}\n{\"gpu\":0,\"t_mono_ns\":2,\"err\":\"nvml\"}\n"))
	f.Add([]byte("\n"))
	f.Add([]byte(`{"gpu":-1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lr := bundle.NewLineReader(bytes.NewReader(data), 1024)
		ps, err := decodePowerLines(lr.Next)
		if err != nil {
			return
		}
		for _, s := range ps.valid {
			if s.GPU < 0 {
				t.Fatalf("accepted a negative gpu: %+v", s)
			}
		}
	})
}

func FuzzScoreAccuracy(f *testing.F) {
	f.Add([]byte("{\"id\":0,\"output\":\"#### 5\"}\n{\"id\":1,\"output\":\"7\"}\n"))
	f.Add([]byte("{\"id\":0,\"output\":\"#### 5\"}\n{\"id\":0,\"output\":\"#### 5\"}\n"))
	f.Add([]byte("not json\n"))
	refs := []Reference{{0, "5"}, {1, "7"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		as, err := scoreAccuracy(bytes.NewReader(data), refs, 2)
		if err != nil {
			return
		}
		if as.correct > 2 || as.score() > 1 {
			t.Fatalf("more correct answers than questions: %+v", as)
		}
	})
}

func TestScoreAccuracyRefusesLongLine(t *testing.T) {
	line := `{"id":0,"output":"` + strings.Repeat("9", maxAccuracyLine+10) + "\"}\n"
	as, err := scoreAccuracy(strings.NewReader(line), []Reference{{0, "5"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(as.fails) == 0 || !strings.Contains(as.fails[0], "line too long") {
		t.Errorf("fails: got %q, want a line too long", as.fails)
	}
}
