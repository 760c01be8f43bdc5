package sim

import (
	"bytes"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// syncBuffer is a log sink safe for the node's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startNode starts member's node of the frontend at url and serves it on a
// loopback port.
func startNode(t *testing.T, p Profile, member int, url string, mut func(*NodeConfig), log zerolog.Logger) (*Node, string) {
	t.Helper()
	cfg := NodeConfig{Profile: p, Member: member, FrontendURL: url, Seed: 1, Poll: 20 * time.Millisecond}
	if mut != nil {
		mut(&cfg)
	}
	n, err := NewNode(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n)
	t.Cleanup(func() {
		srv.Close()
		_ = n.Close()
	})
	return n, srv.URL
}

// Each node's counters are monotonic, the decode node draws more under a
// decode load than idle, and the nodes' energy sums to the frontend's rack
// model over the same span.
func TestNodesSumToTheRackModel(t *testing.T) {
	cfg := rackConfig(t, nil)
	front, url := startSim(t, cfg)
	c := testClient(t)
	_, pre := startNode(t, cfg.Profile, 0, url, nil, zerolog.Nop())
	_, dec := startNode(t, cfg.Profile, 1, url, nil, zerolog.Nop())
	read := func() (nodes [2]PowerReading, rack RackLoad) {
		nodes[0] = getJSON[PowerReading](t, c, pre+"/sim/v1/power")
		rack, _ = front.Rack()
		nodes[1] = getJSON[PowerReading](t, c, dec+"/sim/v1/power")
		return nodes, rack
	}
	time.Sleep(100 * time.Millisecond) // a few polls
	n0, r0 := read()
	for k, n := range n0 {
		if !n.Simulated || n.Node == nil || n.Node.Member != k || !n.Node.FrontendOK || len(n.GPUs) != 2 || n.Profile != "tiny-rack" {
			t.Fatalf("node %d reading %+v (node %+v)", k, n, n.Node)
		}
	}
	if n0[0].Node.Role != RolePrefill || n0[1].Node.Role != RoleDecode {
		t.Errorf("roles %s, %s: want prefill, decode", n0[0].Node.Role, n0[1].Node.Role)
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		loadRack(t, url, 6, func(int) map[string]any {
			return map[string]any{"max_tokens": 60, "min_tokens": 60, "ignore_eos": true}
		})
	}()
	prev, maxDecodeW := n0, 0.0
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-time.After(10 * time.Millisecond):
		}
		cur, _ := read()
		for k := range cur {
			for i, g := range cur[k].GPUs {
				if g.EnergyMJ < prev[k].GPUs[i].EnergyMJ || g.TMonoNS < prev[k].GPUs[i].TMonoNS {
					t.Fatalf("node %d GPU %d went back: %d → %d mJ", k, i, prev[k].GPUs[i].EnergyMJ, g.EnergyMJ)
				}
			}
			if cur[k].Total.EnergyMJ < prev[k].Total.EnergyMJ || cur[k].Node.OverheadEnergyMJ < prev[k].Node.OverheadEnergyMJ {
				t.Fatalf("node %d total went back", k)
			}
		}
		maxDecodeW = max(maxDecodeW, cur[1].Total.PowerW)
		prev = cur
	}
	if idleW := 2*60.0 + 150; maxDecodeW <= idleW+10 {
		t.Errorf("decode node drew at most %.1f W under a decode load; idle is %.1f W", maxDecodeW, idleW)
	}
	time.Sleep(300 * time.Millisecond) // idle again, polled
	n1, r1 := read()
	nodesJ := float64(n1[0].Total.EnergyMJ+n1[1].Total.EnergyMJ-n0[0].Total.EnergyMJ-n0[1].Total.EnergyMJ) / 1e3
	rackJ := float64(r1.Total.EnergyMJ-r0.Total.EnergyMJ) / 1e3
	busyJ := rackJ - (2*2*60+2*150)*(r1.ElapsedS-r0.ElapsedS)
	t.Logf("nodes %.1f J, rack model %.1f J (%.1f J above idle) over %.2f s", nodesJ, rackJ, busyJ, r1.ElapsedS-r0.ElapsedS)
	if busyJ <= 0 {
		t.Fatalf("the rack model saw no load: %.1f J above idle", busyJ)
	}
	if d := math.Abs(nodesJ - rackJ); d > 0.05*rackJ {
		t.Errorf("nodes' energy %.1f J vs the rack model's %.1f J: %.1f%% apart", nodesJ, rackJ, 100*d/rackJ)
	}
	// Same seed, same GPUs: once the load has faded the decode node's GPUs
	// draw the profile's idle watts again (tiny-rack has no spread).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r := getJSON[PowerReading](t, c, dec+"/sim/v1/power")
		if math.Abs(r.GPUs[0].PowerW-60) < 0.1 && math.Abs(r.GPUs[1].PowerW-60) < 0.1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("decode node still draws %.2f W per GPU long after the load", r.GPUs[0].PowerW)
		}
	}
}

// The gap fault: no power answers for its span, answers before and after.
func TestNodePowerGap(t *testing.T) {
	cfg := rackConfig(t, nil)
	_, url := startSim(t, cfg)
	c := testClient(t)
	const after, span = 300 * time.Millisecond, 500 * time.Millisecond
	before := time.Now()
	_, node := startNode(t, cfg.Profile, 1, url, func(nc *NodeConfig) {
		nc.Faults.PowerGapAfter, nc.Faults.PowerGapFor = after, span
	}, zerolog.Nop())
	created := time.Now() // the node was created in [before, created]
	var ok, gapped int
	for time.Since(before) < after+span+300*time.Millisecond {
		sent := time.Now()
		resp, err := c.Get(node + "/sim/v1/power")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := time.Now()
		inGap := sent.After(created.Add(after)) && got.Before(before.Add(after+span))
		switch {
		case resp.StatusCode == http.StatusOK && inGap:
			t.Fatalf("a power answer inside the gap (%v to %v after start)", sent.Sub(created), got.Sub(before))
		case resp.StatusCode == http.StatusOK:
			ok++
		case resp.StatusCode == http.StatusServiceUnavailable:
			gapped++
		default:
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ok == 0 || gapped == 0 {
		t.Errorf("%d answers, %d refused: want both", ok, gapped)
	}
}

// A frontend that is down or answers garbage leaves the node at idle power,
// saying so in its reading and its log; it recovers when the frontend does.
func TestNodeHostileFrontend(t *testing.T) {
	p, _ := DefaultProfile("tiny-rack")
	front, err := NewServer(Config{Profile: p, Seed: 1}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(front.Stop)
	var mode atomic.Value
	mode.Store("ok")
	redirect := httptest.NewServer(front.Handler())
	t.Cleanup(redirect.Close)
	answers := map[string]func(w http.ResponseWriter, r *http.Request){
		"garbage": func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>not json")) },
		"huge": func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"simulated":true,"profile":"tiny-rack","pad":"`))
			_, _ = w.Write(bytes.Repeat([]byte("x"), 2<<20))
			_, _ = w.Write([]byte(`"}`))
		},
		"over-busy": func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, RackLoad{Simulated: true, Profile: "tiny-rack", ElapsedS: 1, Members: []MemberLoad{
				{Member: 0, Role: RolePrefill, GPUs: 2, Utilization: 1, BusyS: 1},
				{Member: 1, Role: RoleDecode, GPUs: 2, Utilization: 7, BusyS: 9}}})
		},
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, redirect.URL+"/sim/v1/rack", http.StatusFound)
		},
		"500": func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) },
	}
	fe := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := answers[mode.Load().(string)]; ok {
			h(w, r)
			return
		}
		front.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(fe.Close)
	logs := &syncBuffer{}
	n, _ := startNode(t, p, 1, fe.URL, nil, zerolog.New(logs))
	waitFor := func(what string, cond func(PowerReading) bool) PowerReading {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := n.Power()
			if cond(r) {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: node reading %+v", what, r.Node)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("frontend ok", func(r PowerReading) bool { return r.Node.FrontendOK })
	for _, m := range []string{"garbage", "huge", "over-busy", "redirect", "500"} {
		mode.Store(m)
		r := waitFor(m, func(r PowerReading) bool { return !r.Node.FrontendOK })
		if r.Node.FrontendError == "" {
			t.Errorf("%s: no error in the reading", m)
		}
		r = waitFor(m+", idle", func(r PowerReading) bool { return r.GPUs[0].PowerW == 60 })
		if r.Total.PowerW != 2*60+150 {
			t.Errorf("%s: node draws %.2f W, want idle 270 W", m, r.Total.PowerW)
		}
		mode.Store("ok")
		waitFor(m+", recovered", func(r PowerReading) bool { return r.Node.FrontendOK })
	}
	fe.Close()
	waitFor("frontend down", func(r PowerReading) bool { return !r.Node.FrontendOK })
	if s := logs.String(); !strings.Contains(s, "rack frontend unreadable: serving idle power") || !strings.Contains(s, "rack frontend answers again") {
		t.Errorf("log does not say the frontend was lost and found:\n%s", s)
	}
}

func TestNodeConfigValidate(t *testing.T) {
	rack, _ := DefaultProfile("tiny-rack")
	tiny, _ := DefaultProfile("tiny")
	ok := NodeConfig{Profile: rack, Member: 1, FrontendURL: "http://127.0.0.1:8000"}
	tests := []struct {
		name string
		mut  func(*NodeConfig)
		want string
	}{
		{"ok", func(*NodeConfig) {}, ""},
		{"private", func(c *NodeConfig) { c.FrontendURL = "https://10.1.2.3:8443/" }, ""},
		{"host name", func(c *NodeConfig) { c.FrontendURL = "http://frontend.rack.internal:8000" }, ""},
		{"IPv6 loopback", func(c *NodeConfig) { c.FrontendURL = "http://[::1]:8000" }, ""},
		{"not a rack", func(c *NodeConfig) { c.Profile = tiny; c.Member = 0 }, "not a rack"},
		{"member too high", func(c *NodeConfig) { c.Member = 2 }, "Member 2"},
		{"negative member", func(c *NodeConfig) { c.Member = -1 }, "Member -1"},
		{"public address", func(c *NodeConfig) { c.FrontendURL = "http://8.8.8.8:80" }, "not a loopback or private address"},
		{"mapped public", func(c *NodeConfig) { c.FrontendURL = "http://[::ffff:8.8.8.8]:80" }, "not a loopback or private address"},
		{"file scheme", func(c *NodeConfig) { c.FrontendURL = "file:///etc/passwd" }, "want http:// or https://"},
		{"user info", func(c *NodeConfig) { c.FrontendURL = "http://u:p@127.0.0.1:8000" }, "no user"},
		{"a path", func(c *NodeConfig) { c.FrontendURL = "http://127.0.0.1:8000/other" }, "without a path"},
		{"empty", func(c *NodeConfig) { c.FrontendURL = "" }, "want http://"},
		{"negative poll", func(c *NodeConfig) { c.Poll = -time.Second }, "Poll"},
		{"a chat fault", func(c *NodeConfig) { c.Faults.ServerErrorRate = 0.5 }, "only PowerGapAfter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mut(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidConfig)):
				t.Errorf("Validate = %v, want ErrInvalidConfig with %q", err, tt.want)
			}
		})
	}
	for addr, want := range map[string]bool{"127.0.0.1:80": true, "10.0.0.1:80": true, "[fd00::1]:80": true,
		"8.8.8.8:80": false, "[2001:db8::1]:80": false, "169.254.169.254:80": false, "junk": false} {
		if got := dialLocalOnly("tcp", addr, nil) == nil; got != want {
			t.Errorf("dialLocalOnly(%s) allowed %v, want %v", addr, got, want)
		}
	}
}
