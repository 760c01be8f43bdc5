package main

import (
	"reflect"
	"testing"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/verifier"
)

// The runner steers by replay.ProbeRules and the verifier judges by
// verifier.ProbeRules; neither package may import the other, so this test,
// in the one package that may import both, holds them equal for every
// profile of every rules version.
func TestProbeRulesAgree(t *testing.T) {
	checked := 0
	for _, v := range spec.RulesVersions() {
		rules, err := spec.LoadRules(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range rules.ProfileNames() {
			prof, err := rules.Profile(name)
			if err != nil {
				t.Fatal(err)
			}
			got, want := verifier.ProbeRules(rules, prof), replay.ProbeRules(rules, prof)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("rules %s profile %s: verifier %+v, runner %+v", v, name, got, want)
			}
			checked++
		}
	}
	if checked < 3 {
		t.Fatalf("checked %d profiles; the rules have at least official, quick and test", checked)
	}
}
