package scaler

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestAWSGroupProtocol: each back-end call is one signed Query API request
// with the action and parameters the Auto Scaling API documents, and the
// answers are read back.
func TestAWSGroupProtocol(t *testing.T) {
	m := newASG("agentwatt-h200x8", 0, 8, 2)
	g := NewAWSGroup(standinClient(t, startStandin(t, m)), "agentwatt-h200x8")
	ctx := context.Background()

	got, err := g.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Desired != 2 || got.Min != 0 || got.Max != 8 || len(got.Instances) != 2 || got.Instances[0].Protected {
		t.Fatalf("Describe: %+v", got)
	}
	rs := m.takeRequests()
	if len(rs) != 1 || rs[0].Action != "DescribeAutoScalingGroups" || !slices.Equal(members(rs[0].Params, "AutoScalingGroupNames"), []string{"agentwatt-h200x8"}) {
		t.Fatalf("requests: %+v", rs)
	}

	ids := m.ids()
	if err := g.Protect(ctx, ids[:1], true); err != nil {
		t.Fatal(err)
	}
	rs = m.takeRequests()
	if len(rs) != 1 || rs[0].Action != "SetInstanceProtection" || rs[0].Params.Get("AutoScalingGroupName") != "agentwatt-h200x8" ||
		rs[0].Params.Get("ProtectedFromScaleIn") != "true" || !slices.Equal(members(rs[0].Params, "InstanceIds"), ids[:1]) {
		t.Fatalf("requests: %+v", rs)
	}

	if err := g.SetDesired(ctx, 5); err != nil {
		t.Fatal(err)
	}
	rs = m.takeRequests()
	if len(rs) != 1 || rs[0].Action != "SetDesiredCapacity" || rs[0].Params.Get("DesiredCapacity") != "5" ||
		rs[0].Params.Get("HonorCooldown") != "false" || rs[0].Params.Get("AutoScalingGroupName") != "agentwatt-h200x8" {
		t.Fatalf("requests: %+v", rs)
	}
	if got, _ := g.Describe(ctx); got.Desired != 5 || len(got.Instances) != 5 || !got.Instances[0].Protected {
		t.Fatalf("after SetDesired 5: %+v", got)
	}

	// A refused request is an error that says why.
	if err := g.SetDesired(ctx, 9); err == nil || !strings.Contains(err.Error(), "outside [0, 8]") {
		t.Errorf("SetDesired above MaxSize: %v, want the API's ValidationError", err)
	}
	if _, err := NewAWSGroup(g.api, "no-such-group").Describe(ctx); err == nil || !strings.Contains(err.Error(), "0 groups") {
		t.Errorf("unknown group: %v", err)
	}
}

// TestAWSGroupProtectBatches: more than 50 instances are protected in
// calls of at most 50 (the API's limit).
func TestAWSGroupProtectBatches(t *testing.T) {
	m := newASG("big", 0, 200, 120)
	g := NewAWSGroup(standinClient(t, startStandin(t, m)), "big")
	if err := g.Protect(context.Background(), m.ids(), true); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, r := range m.takeRequests() {
		sizes = append(sizes, len(members(r.Params, "InstanceIds")))
	}
	if !slices.Equal(sizes, []int{50, 50, 20}) || len(m.protectedIDs()) != 120 {
		t.Errorf("batches %v, %d protected; want 50, 50, 20 and all", sizes, len(m.protectedIDs()))
	}
}

// TestStandinRefusesUnsigned: the stand-in's SigV4 check is real: a
// request signed with another secret is refused (so the tests above prove
// the SDK signed with the chain's credentials).
func TestStandinRefusesUnsigned(t *testing.T) {
	m := newASG("g", 0, 2, 0)
	m.badSigOK = true
	srv := startStandin(t, m)
	t.Setenv("AWS_ACCESS_KEY_ID", standinKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	c, err := NewAutoScalingClient(context.Background(), standinRegion, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewAWSGroup(c, "g").Describe(context.Background()); err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatalf("Describe with a wrong secret: %v, want SignatureDoesNotMatch", err)
	}
}
