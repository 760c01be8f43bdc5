package spec

import (
	"slices"
	"strings"
	"testing"
)

// A submission written before roles and deployment existed keeps its
// digest, and writing the default deployment out changes nothing.
func TestRolesCompatibleDigest(t *testing.T) {
	base := mustParse(t, imageDoc)
	launched := mustParse(t, edit(imageDoc, "  ready_timeout: 20m", "  deployment: launched\n  ready_timeout: 20m"))
	if launched.Digest() != base.Digest() {
		t.Errorf("deployment: launched changed the digest")
	}
	c, err := base.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(c), `"deployment"`) || strings.Contains(string(c), `"roles"`) {
		t.Errorf("a submission without roles writes them in its canonical form: %s", c)
	}
	external := mustParse(t, edit(imageDoc, "  ready_timeout: 20m", "  deployment: external\n  ready_timeout: 20m"))
	if external.Digest() == base.Digest() || !external.Engine.External() || base.Engine.External() {
		t.Errorf("an external deployment is not told apart")
	}
}

func TestReplicasAndParts(t *testing.T) {
	s := mustParse(t, rolesDoc)
	got := s.Engine.Replicas()
	want := []Replica{{RoleFrontend, 0, 0}, {RolePrefill, 0, 2}, {RolePrefill, 1, 2}, {RoleDecode, 0, 4}}
	if !slices.Equal(got, want) {
		t.Errorf("Replicas() = %v, want %v", got, want)
	}
	if s.Engine.RoleImage(s.Engine.Roles[0]) != s.Engine.Image {
		t.Errorf("a role without an image does not default to engine.image")
	}
	tests := []struct {
		name          string
		gpus, perHost int
		want          []Part
	}{
		{"fits", 4, 8, []Part{{Rank: 0, NNodes: 1, GPUs: 4}}},
		{"frontend", 0, 4, []Part{{Rank: 0, NNodes: 1, GPUs: 0}}},
		{"nvl72 decode", 48, 4, nil},
		{"uneven", 10, 4, []Part{{Rank: 0, NNodes: 3, GPUs: 4}, {Rank: 1, NNodes: 3, GPUs: 4}, {Rank: 2, NNodes: 3, GPUs: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Replica{Role: RoleDecode, GPUs: tt.gpus}
			parts := r.Parts(tt.perHost)
			sum := 0
			for i, p := range parts {
				sum += p.GPUs
				if p.Rank != i || p.NNodes != len(parts) || p.Replica != r {
					t.Errorf("part %d = %+v", i, p)
				}
				if tt.want != nil && (p.Rank != tt.want[i].Rank || p.NNodes != tt.want[i].NNodes || p.GPUs != tt.want[i].GPUs) {
					t.Errorf("part %d = %+v, want %+v", i, p, tt.want[i])
				}
			}
			if sum != tt.gpus {
				t.Errorf("parts hold %d GPUs, the replica %d", sum, tt.gpus)
			}
			if tt.want != nil && len(parts) != len(tt.want) {
				t.Errorf("%d parts, want %d", len(parts), len(tt.want))
			}
			if tt.name == "nvl72 decode" && len(parts) != 12 {
				t.Errorf("a 48-GPU replica on 4-GPU hosts spans %d hosts, want 12", len(parts))
			}
		})
	}
}
