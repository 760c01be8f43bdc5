package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// DefaultNodePoll is how often a member node reads its frontend's load.
const DefaultNodePoll = 100 * time.Millisecond

// NodeConfig configures a SIMULATED rack member's node (NewNode).
type NodeConfig struct {
	// Profile is the rack profile; it must have a Rack section.
	Profile Profile
	// Member is this node's member number, 0 to Rack.Members−1.
	Member int
	// FrontendURL is the rack frontend's base URL (a Server with the same
	// profile), e.g. "http://10.0.0.5:8000". It must be http or https to an
	// IP address that is loopback or private; a host name must resolve to
	// one (checked at every connection).
	FrontendURL string
	// Seed draws the node's GPUs; use the frontend's seed for the node's
	// GPUs to be the ones in the frontend's rack model.
	Seed int64
	// Poll is how often the node reads the frontend; 0 means DefaultNodePoll.
	Poll time.Duration
	// Faults: only PowerGapAfter, PowerGapFor and EnergyResetAfter apply
	// to a node; any other fault set is an error.
	Faults Faults
}

// Validate checks the config as the caller set it; each error names the field.
func (c NodeConfig) Validate() error {
	var errs []error
	if err := c.Profile.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case c.Profile.Rack == nil:
		errs = append(errs, fmt.Errorf("%w: Profile %q is not a rack (no rack section)", ErrInvalidConfig, c.Profile.Name))
	case c.Member < 0 || c.Member >= c.Profile.Rack.Members:
		errs = append(errs, fmt.Errorf("%w: Member %d: the rack has members 0 to %d", ErrInvalidConfig, c.Member, c.Profile.Rack.Members-1))
	}
	if _, err := frontendRackURL(c.FrontendURL); err != nil {
		errs = append(errs, err)
	}
	if c.Poll < 0 {
		errs = append(errs, fmt.Errorf("%w: Poll %v: must not be negative (0: %v)", ErrInvalidConfig, c.Poll, DefaultNodePoll))
	}
	f := c.Faults
	if err := f.Validate(); err != nil {
		errs = append(errs, err)
	}
	f.PowerGapAfter, f.PowerGapFor, f.EnergyResetAfter = 0, 0, 0
	if f != (Faults{}) {
		errs = append(errs, fmt.Errorf("%w: Faults: a node takes only PowerGapAfter, PowerGapFor and EnergyResetAfter", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}

// frontendRackURL checks a frontend base URL and returns its /sim/v1/rack.
func frontendRackURL(base string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: FrontendURL %q: %s", ErrInvalidConfig, base, why)
	}
	u, err := url.Parse(base)
	switch {
	case err != nil:
		return "", bad("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad("want http:// or https://")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "", bad("want scheme://host:port with no user, query or fragment")
	case u.Hostname() == "":
		return "", bad("no host")
	case strings.Trim(u.Path, "/") != "":
		return "", bad("want the base URL, without a path")
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !localAddr(ip) {
		return "", bad("not a loopback or private address: a rack's frontend is on the rack's own network")
	}
	u.Path = "/sim/v1/rack"
	return u.String(), nil
}

// localAddr reports whether ip is loopback or private (RFC 1918, RFC 4193).
func localAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate()
}

// Node is a SIMULATED rack member's node: it reads its member's load from the
// frontend's GET /sim/v1/rack and serves its own GET /sim/v1/power (a
// PowerReading of its GPUs, with Node set) and GET /health. While the
// frontend cannot be read the node draws idle power and logs so.
type Node struct {
	cfg     NodeConfig
	log     zerolog.Logger
	rackURL string
	client  *http.Client
	tr      *http.Transport
	meter   *powerMeter
	created time.Time
	mux     *http.ServeMux

	overheadMJ float64

	mu     sync.Mutex
	status nodeStatus

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// nodeStatus is what the poll loop last learnt.
type nodeStatus struct {
	reachable         bool
	err               string
	lastBusy, lastEl  float64
	have              bool
	polls, pollErrors uint64
}

// NewNode validates cfg and starts polling the frontend. Serve the node
// with its ServeHTTP; Close stops it.
func NewNode(cfg NodeConfig, log zerolog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Poll == 0 {
		cfg.Poll = DefaultNodePoll
	}
	rackURL, _ := frontendRackURL(cfg.FrontendURL)
	dialer := &net.Dialer{Timeout: 2 * time.Second, Control: dialLocalOnly}
	tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 1, IdleConnTimeout: 30 * time.Second,
		ResponseHeaderTimeout: 2 * time.Second, MaxResponseHeaderBytes: 16 << 10, DisableCompression: true}
	n := &Node{
		cfg: cfg, rackURL: rackURL, tr: tr, created: time.Now(),
		log: log.With().Str("component", "sim-node").Str("profile", cfg.Profile.Name).Int("member", cfg.Member).Logger(),
		client: &http.Client{Transport: tr, Timeout: 3 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		meter:      newMeterOf(memberGPUs(cfg.Profile, cfg.Seed, cfg.Member), 0, realClock(), cfg.Faults.EnergyResetAfter),
		overheadMJ: overheadStart(cfg.Seed, cfg.Member),
	}
	n.status.reachable = true // so that a first failure is logged
	n.mux = http.NewServeMux()
	n.mux.HandleFunc("GET /sim/v1/power", n.handlePower)
	n.mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.run(ctx)
	}()
	return n, nil
}

// dialLocalOnly refuses a connection to an address that is not loopback or
// private, whatever a host name resolved to.
func dialLocalOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !localAddr(ap.Addr()) {
		return fmt.Errorf("sim node: %s is not a loopback or private address", address)
	}
	return nil
}

// ServeHTTP serves GET /sim/v1/power and GET /health.
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) { n.mux.ServeHTTP(w, r) }

// Close stops polling. It is safe to call more than once.
func (n *Node) Close() error {
	n.once.Do(func() {
		n.cancel()
		n.wg.Wait()
		n.tr.CloseIdleConnections()
	})
	return nil
}

func (n *Node) run(ctx context.Context) {
	t := time.NewTicker(n.cfg.Poll)
	defer t.Stop()
	for {
		n.poll(ctx)
		select {
		case <-ctx.Done():
			n.meter.setUtil(0)
			return
		case <-t.C:
		}
	}
}

// poll reads the frontend once and sets the GPUs' utilisation until the
// next read: the member's mean utilisation since the last read, or idle
// when the frontend cannot be read.
func (n *Node) poll(ctx context.Context) {
	rl, err := n.fetch(ctx)
	if ctx.Err() != nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	st := &n.status
	st.polls++
	if err != nil {
		st.pollErrors++
		st.have = false
		if st.reachable {
			n.log.Warn().Err(err).Msg("rack frontend unreadable: serving idle power until it answers")
		}
		st.reachable, st.err = false, err.Error()
		n.meter.setUtil(0)
		return
	}
	if !st.reachable {
		n.log.Info().Msg("rack frontend answers again")
	}
	st.reachable, st.err = true, ""
	m := rl.Members[n.cfg.Member]
	u := m.Utilization
	if st.have && rl.ElapsedS > st.lastEl && m.BusyS >= st.lastBusy {
		u = min((m.BusyS-st.lastBusy)/(rl.ElapsedS-st.lastEl), 1)
	}
	st.have, st.lastBusy, st.lastEl = true, m.BusyS, rl.ElapsedS
	n.meter.setUtil(u)
}

func (n *Node) fetch(ctx context.Context) (*RackLoad, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.rackURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", n.rackURL, resp.StatusCode)
	}
	return ReadRackLoad(resp.Body, n.cfg.Profile)
}

// NodeReading is what a member node adds to its PowerReading: its place in
// the rack, its overhead and whether it could read its frontend.
type NodeReading struct {
	Member   int    `json:"member"`
	Role     string `json:"role"`
	Frontend string `json:"frontend"`
	// FrontendOK is false while the frontend cannot be read (the GPUs
	// then draw idle power); FrontendError says why.
	FrontendOK    bool   `json:"frontend_ok"`
	FrontendError string `json:"frontend_error,omitempty"`
	// OverheadW and OverheadEnergyMJ are the node's power beyond its GPUs,
	// which PowerReading.Total includes.
	OverheadW        float64 `json:"overhead_w"`
	OverheadEnergyMJ uint64  `json:"overhead_energy_mj"`
}

// Power reads the node's counters now.
func (n *Node) Power() PowerReading {
	r := n.meter.read()
	_, _, t := n.meter.utilization()
	rk := n.cfg.Profile.Rack
	r.Profile = n.cfg.Profile.Name
	n.mu.Lock()
	nr := &NodeReading{Member: n.cfg.Member, Role: rk.Role(n.cfg.Member), Frontend: n.cfg.FrontendURL,
		FrontendOK: n.status.reachable && n.status.polls > 0, FrontendError: n.status.err,
		OverheadW: rk.NodeOverheadW, OverheadEnergyMJ: uint64(n.overheadMJ + rk.NodeOverheadW*t*1e3)}
	n.mu.Unlock()
	r.Node = nr
	r.Total.PowerW += nr.OverheadW
	r.Total.EnergyMJ += nr.OverheadEnergyMJ
	return r
}

func (n *Node) handlePower(w http.ResponseWriter, _ *http.Request) {
	f := &n.cfg.Faults
	if f.PowerGapFor > 0 {
		if el := time.Since(n.created); el >= f.PowerGapAfter && el < f.PowerGapAfter+f.PowerGapFor {
			writeAPIError(w, unavailable("simulated power sample gap (fault injection)"))
			return
		}
	}
	writeJSON(w, http.StatusOK, n.Power())
}
