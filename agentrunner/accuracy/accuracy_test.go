package accuracy

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/sim"
)

func TestSubset(t *testing.T) {
	all, err := GSM8K()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1319 {
		t.Fatalf("got %d questions, want 1319", len(all))
	}
	qs, err := Subset(Dataset, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 10 || qs[0].ID != 0 || qs[0].Expected != "18" {
		t.Errorf("first question: %+v", qs[0])
	}
	if _, err := Subset("mmlu", 10); err == nil {
		t.Error("unknown dataset accepted")
	}
	if _, err := Subset(Dataset, 5000); err == nil {
		t.Error("more questions than the set accepted")
	}
}

func TestParseErrors(t *testing.T) {
	_, err := Parse("x.jsonl", []byte("{\"question\":\"q\",\"answer\":\"a\\n#### 1\"}\n{\"question\":\"q\",\"answer\":\"no final\"}\n"))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("x.jsonl:2")) {
		t.Errorf("got %v, want an error at x.jsonl:2", err)
	}
}

// TestRunAgainstSim asks the sim's oracle, which answers every question of
// its set correctly except a seeded share.
func TestRunAgainstSim(t *testing.T) {
	qs, err := Subset(Dataset, 20)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "set.jsonl")
	if err := WriteSet(path, qs); err != nil {
		t.Fatal(err)
	}
	set, err := sim.LoadAccuracySet(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := sim.DefaultProfile("unlimited")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sim.NewServer(sim.Config{Profile: p, Seed: 1, Accuracy: set, AccuracyErrorRate: 0.25}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	url, err := srv.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := Run(context.Background(), Config{Endpoint: url, Model: "sim-unlimited", MaxTokens: 512, TopP: 1}, qs, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.Bytes()[:min(out.Len(), 600)])
	}
	if res.Questions != 20 || res.Errors != 0 || res.Correct == 0 || res.Correct == 20 {
		t.Errorf("result %+v: want some but not all correct at a 25%% error rate", res)
	}
	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	if len(lines) != 20 {
		t.Fatalf("%d records, want 20", len(lines))
	}
	correct := 0
	for i, l := range lines {
		var r Record
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatal(err)
		}
		if r.ID != i || r.Output == "" || r.Expected != qs[i].Expected {
			t.Errorf("record %d: %+v", i, r)
		}
		if r.Correct != (r.Extracted == r.Expected) {
			t.Errorf("record %d: correct %v but extracted %q, expected %q", i, r.Correct, r.Extracted, r.Expected)
		}
		if r.Correct {
			correct++
		}
	}
	if correct != res.Correct {
		t.Errorf("records say %d correct, result %d", correct, res.Correct)
	}
}
