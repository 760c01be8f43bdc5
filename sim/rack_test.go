package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// rackConfig is the tiny-rack profile in real time, adjusted by mut.
func rackConfig(t *testing.T, mut func(c *Config)) Config {
	t.Helper()
	p, err := DefaultProfile("tiny-rack")
	if err != nil {
		t.Fatal(err)
	}
	c := Config{Profile: p, Seed: 1, TimeScale: 1}
	if mut != nil {
		mut(&c)
	}
	return c
}

func getJSON[T any](t *testing.T, c *http.Client, url string) T {
	t.Helper()
	var v T
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRackProfiles(t *testing.T) {
	for _, name := range []string{"gb300-nvl72-like", "tiny-rack"} {
		p, err := DefaultProfile(name)
		if err != nil {
			t.Fatal(err)
		}
		r := p.Rack
		if r == nil || r.Members*r.GPUsPerMember != p.GPUs || r.PrefillMembers < 1 || r.DecodeMembers() < 1 {
			t.Errorf("%s: rack %+v with %d GPUs", name, r, p.GPUs)
		}
	}
	nvl, _ := DefaultProfile("gb300-nvl72-like")
	if r := nvl.Rack; r.Members != 4 || r.GPUsPerMember != 18 || r.Role(0) != RolePrefill || r.Role(1) != RoleDecode || r.Role(3) != RoleDecode {
		t.Errorf("gb300-nvl72-like rack %+v: want 4 × 18, member 0 prefill, 1-3 decode", r)
	}
	for _, p := range DefaultProfiles() {
		if p.Rack != nil && !strings.Contains(p.Description, "SIMULATED") {
			t.Errorf("%s: description does not say SIMULATED", p.Name)
		}
	}
}

func TestRackProfileErrors(t *testing.T) {
	base := strings.Replace(validProfileYAML, "    gpus: 1\n", "    gpus: 4\n", 1)
	tests := []struct{ name, rack, want string }{
		{"GPUs do not add up", "members: 2\n      gpus_per_member: 3\n      prefill_members: 1", "$.profiles[0].rack.gpus_per_member"},
		// 4 × (2^62 + 1) overflows to 4: the bound comes before the product.
		{"overflowing GPUs per member", "members: 4\n      gpus_per_member: 4611686018427387905\n      prefill_members: 1", "$.profiles[0].rack.gpus_per_member"},
		{"one member", "members: 1\n      gpus_per_member: 4\n      prefill_members: 1", "$.profiles[0].rack.members"},
		{"no decode member", "members: 2\n      gpus_per_member: 2\n      prefill_members: 2", "$.profiles[0].rack.prefill_members"},
		{"no prefill member", "members: 2\n      gpus_per_member: 2\n      prefill_members: 0", "$.profiles[0].rack.prefill_members"},
		{"negative overhead", "members: 2\n      gpus_per_member: 2\n      prefill_members: 1\n      node_overhead_w: -1", "$.profiles[0].rack.node_overhead_w"},
		{"negative KV transfer", "members: 2\n      gpus_per_member: 2\n      prefill_members: 1\n      kv_transfer_ns_per_token: -5", "$.profiles[0].rack.kv_transfer_ns_per_token"},
		{"unknown field", "members: 2\n      gpus_per_member: 2\n      prefill_members: 1\n      prefil_members: 1", "prefil_members"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProfiles("p.yaml", []byte(base+"    rack:\n      "+tt.rack+"\n"))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "p.yaml:") {
				t.Errorf("ParseProfiles = %v, want an error at %s", err, tt.want)
			}
		})
	}
	if _, err := ParseProfiles("p.yaml", []byte(base+"    rack:\n      members: 2\n      gpus_per_member: 2\n      prefill_members: 1\n")); err != nil {
		t.Errorf("a sound rack: %v", err)
	}
}

func TestRackPoolUtils(t *testing.T) {
	p, _ := DefaultProfile("tiny-rack")
	r, pw := p.Rack, p.Power
	if pu, du := r.poolUtils(pw, 0, 0); pu != 0 || du != 0 {
		t.Errorf("no tokens: %v, %v", pu, du)
	}
	if pu, du := r.poolUtils(pw, 300, 0); pu <= pw.BusyFloor || du != 0 {
		t.Errorf("prefill only: prefill %v, decode %v", pu, du)
	}
	if pu, du := r.poolUtils(pw, 0, 8); pu != 0 || du < pw.BusyFloor {
		t.Errorf("decode only: prefill %v, decode %v", pu, du)
	}
	if pu, _ := r.poolUtils(pw, 1<<20, 0); pu != 1 {
		t.Errorf("saturated prefill: %v, want 1", pu)
	}
}

// loadRack sends n streams to the frontend at url and waits for them.
func loadRack(t *testing.T, url string, n int, extra func(i int) map[string]any) {
	t.Helper()
	c := testClient(t)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			streamChat(t, url, c, chatReq(true, fmt.Sprintf("rack load %d", i), extra(i)))
		}()
	}
	wg.Wait()
}

// The frontend's per-member load follows what the rack does: long outputs
// keep the decode member busy, long prompts the prefill member.
func TestRackLoadFollowsTheLoad(t *testing.T) {
	srv, url := startSim(t, rackConfig(t, nil))
	c := testClient(t)
	idle := getJSON[RackLoad](t, c, url+"/sim/v1/rack")
	if !idle.Simulated || idle.Profile != "tiny-rack" || len(idle.Members) != 2 {
		t.Fatalf("idle rack %+v", idle)
	}
	for _, m := range idle.Members {
		if m.Utilization != 0 || m.PowerW != 2*60+150 {
			t.Errorf("idle member %+v: want utilisation 0 and 2 × 60 W + 150 W", m)
		}
	}
	power := getJSON[PowerReading](t, c, url+"/sim/v1/power")
	if len(power.GPUs) != 4 || power.GPUs[3].Index != 3 {
		t.Errorf("frontend power: %d GPUs, want the rack's 4 in member order", len(power.GPUs))
	}

	// Decode-heavy: short prompts, long outputs.
	done := make(chan struct{})
	var busiest RackLoad
	go func() {
		defer close(done)
		loadRack(t, url, 6, func(int) map[string]any {
			return map[string]any{"max_tokens": 80, "min_tokens": 80, "ignore_eos": true}
		})
	}()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-time.After(20 * time.Millisecond):
			if rl, _ := srv.Rack(); len(busiest.Members) == 0 || rl.Members[1].PowerW > busiest.Members[1].PowerW {
				busiest = rl
			}
		}
	}
	after := getJSON[RackLoad](t, c, url+"/sim/v1/rack")
	pre, dec := after.Members[0].BusyS-idle.Members[0].BusyS, after.Members[1].BusyS-idle.Members[1].BusyS
	t.Logf("decode-heavy: decode member busy %.3f s, prefill member %.3f s", dec, pre)
	if dec <= 0 || dec < 4*pre {
		t.Errorf("decode-heavy load: decode member busy %.3f s, prefill member %.3f s; want decode far busier", dec, pre)
	}
	if len(busiest.Members) != 2 || busiest.Members[1].PowerW <= busiest.Members[0].PowerW || busiest.Members[1].PowerW <= 2*60+150 {
		t.Errorf("busiest reading %+v: the decode member should draw more than the prefill member and than idle", busiest.Members)
	}

	// Prefill-heavy: long prompts, one output token each, once the decode
	// pool's power has settled (its low-pass filter's tail is busy time).
	time.Sleep(time.Duration(10*rackConfig(t, nil).Profile.Power.SmoothingMS) * time.Millisecond)
	after = getJSON[RackLoad](t, c, url+"/sim/v1/rack")
	loadRack(t, url, 6, func(i int) map[string]any {
		return map[string]any{"messages": []map[string]any{{"role": "user", "content": strings.Repeat(fmt.Sprintf("w%d ", i), 1500)}},
			"max_tokens": 1, "min_tokens": 1, "ignore_eos": true}
	})
	last := getJSON[RackLoad](t, c, url+"/sim/v1/rack")
	pre, dec = last.Members[0].BusyS-after.Members[0].BusyS, last.Members[1].BusyS-after.Members[1].BusyS
	t.Logf("prefill-heavy: prefill member busy %.3f s, decode member %.3f s", pre, dec)
	if pre <= 0 || pre < 2*dec {
		t.Errorf("prefill-heavy load: prefill member busy %.3f s, decode member %.3f s; want prefill far busier", pre, dec)
	}
	var sum PowerTotal
	for _, m := range last.Members {
		sum.PowerW += m.PowerW
		sum.EnergyMJ += m.EnergyMJ
	}
	if math.Abs(sum.PowerW-last.Total.PowerW) > 1e-6 || sum.EnergyMJ != last.Total.EnergyMJ {
		t.Errorf("total %+v is not the members' sum %+v", last.Total, sum)
	}
}

// A single-host profile has no rack endpoint.
func TestRackEndpointNotARack(t *testing.T) {
	_, url := startSim(t, tinyConfig(t, nil))
	resp, err := testClient(t).Get(url + "/sim/v1/rack")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/sim/v1/rack on tiny: HTTP %d, want 404", resp.StatusCode)
	}
}

// The KV transfer between the pools costs step time per prefill token.
func TestRackKVTransferCost(t *testing.T) {
	p, _ := DefaultProfile("tiny-rack")
	plain := *p.Rack
	plain.KVTransferNSPerToken = 0
	q := p
	q.Rack = &plain
	s := &seq{promptLen: 1000, target: 1}
	pl := func(p Profile) *stepPlan {
		e := newEngine(p, newPowerMeter(p, 1, fixedClock(), 0), 1)
		x := &stepPlan{entries: []planEntry{{s: s, n: 1000}}}
		e.cost(x)
		return x
	}
	with, without := pl(p), pl(q)
	if got, want := with.dur-without.dur, int64(1000*p.Rack.KVTransferNSPerToken); got != want {
		t.Errorf("KV transfer adds %d ns to a 1000-token prefill step, want %d", got, want)
	}
	if with.prefillUtil <= 0 || with.decodeUtil != 0 {
		t.Errorf("prefill step: prefill util %v, decode util %v", with.prefillUtil, with.decodeUtil)
	}
}

// FuzzDecodeRackLoad: whatever a frontend answers, the decoder neither
// panics nor accepts a load a node could not use: one entry per member, in
// order, with the profile's roles and GPUs, utilisations in [0, 1] and busy
// time within the elapsed time.
func FuzzDecodeRackLoad(f *testing.F) {
	p, err := DefaultProfile("tiny-rack")
	if err != nil {
		f.Fatal(err)
	}
	m := newRackMeter(p, 1, realClock(), 0)
	m.step(&stepPlan{prefillUtil: 0.5, decodeUtil: 0.9})
	valid, _ := json.Marshal(m.load())
	f.Add(valid)
	f.Add([]byte(`{"simulated":true,"profile":"tiny-rack","elapsed_s":2,"members":[{"member":0,"role":"prefill","gpus":2,"utilization":0.5,"busy_s":1},{"member":1,"role":"decode","gpus":2,"utilization":1,"busy_s":2}]}`))
	f.Add([]byte(`{"simulated":true,"profile":"tiny-rack","elapsed_s":1,"members":[{"member":1,"role":"decode","gpus":2},{"member":0,"role":"prefill","gpus":2}]}`))
	f.Add([]byte(`{"simulated":true,"profile":"tiny-rack","elapsed_s":1e308,"members":[{"member":0,"role":"prefill","gpus":2,"utilization":-0},{"member":1,"role":"decode","gpus":2,"busy_s":1e309}]}`))
	f.Add([]byte(`{"simulated":false}`))
	f.Add([]byte(`{"simulated":true,"profile":"tiny-rack","members":null} {}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		rl, err := DecodeRackLoad(data, p)
		if err != nil {
			if rl != nil {
				t.Fatal("a load with an error")
			}
			return
		}
		if !rl.Simulated || rl.Profile != p.Name || len(rl.Members) != p.Rack.Members || math.IsNaN(rl.ElapsedS) || rl.ElapsedS < 0 {
			t.Fatalf("accepted %+v", rl)
		}
		for i, m := range rl.Members {
			if m.Member != i || m.Role != p.Rack.Role(i) || m.GPUs != p.Rack.GPUsPerMember ||
				!(m.Utilization >= 0 && m.Utilization <= 1) || !(m.BusyS >= 0) || math.IsInf(m.BusyS, 0) {
				t.Fatalf("accepted member %d: %+v", i, m)
			}
		}
	})
}

func TestDecodeRackLoadRefuses(t *testing.T) {
	p, _ := DefaultProfile("tiny-rack")
	good := `{"simulated":true,"profile":"tiny-rack","elapsed_s":2,"members":[{"member":0,"role":"prefill","gpus":2,"utilization":0.5,"busy_s":1},{"member":1,"role":"decode","gpus":2,"utilization":1,"busy_s":2}]}`
	if _, err := DecodeRackLoad([]byte(good), p); err != nil {
		t.Fatalf("a sound load: %v", err)
	}
	tests := []struct{ name, from, to, want string }{
		{"not simulated", `"simulated":true`, `"simulated":false`, "not marked simulated"},
		{"other profile", `"profile":"tiny-rack"`, `"profile":"gb300-nvl72-like"`, "profile"},
		{"member order", `"member":0`, `"member":1`, "members[0] is member 1"},
		{"role swapped", `"role":"prefill"`, `"role":"decode"`, "role"},
		{"GPUs", `"gpus":2,"utilization":0.5`, `"gpus":18,"utilization":0.5`, "18 GPUs"},
		{"over-utilised", `"utilization":1,`, `"utilization":1.5,`, "utilization 1.5"},
		{"negative busy", `"busy_s":1}`, `"busy_s":-1}`, "busy_s -1"},
		{"busy beyond elapsed", `"busy_s":2}`, `"busy_s":3}`, "busy_s 3"},
		{"negative elapsed", `"elapsed_s":2`, `"elapsed_s":-2`, "elapsed_s"},
		{"a member missing", `,{"member":1,"role":"decode","gpus":2,"utilization":1,"busy_s":2}`, ``, "1 members, the rack has 2"},
		{"trailing data", `]}`, `]} {}`, "data after"},
		{"not JSON", good, `<html>`, "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Replace(good, tt.from, tt.to, 1)
			if body == good {
				t.Fatalf("%q not in the sound load", tt.from)
			}
			if _, err := DecodeRackLoad([]byte(body), p); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodeRackLoad = %v, want an error with %q", err, tt.want)
			}
		})
	}
	big := strings.NewReader(good + strings.Repeat(" ", 2<<20))
	if _, err := ReadRackLoad(big, p); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("ReadRackLoad of 2 MiB = %v, want a size error", err)
	}
}
