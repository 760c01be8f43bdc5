package agentrunner

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/sim"
)

// roleEnv makes the test binary play a part instead of running the tests:
// "agentwatt" is the agentwatt binary as far as the runner's sim launch
// goes (only `sim serve` is needed), "runner" a runner process that a test
// kills.
const roleEnv = "AGENTWATT_RUNNER_TEST_ROLE"

// ownerEnv names, in every engine a test launches, the test binary that
// launched it (testOwner), so that the orphan checks count this binary's
// engines only, not those of another test binary running beside it.
const ownerEnv = "AGENTWATT_RUNNER_TEST_OWNER"

var testOwner = strconv.Itoa(os.Getpid())

// simArgsEnv holds extra `sim serve` flags for the test binary (faults): a
// test's way to make one job's sim misbehave, since the spec names only the
// profile. probeEnv makes the sim print what it sees of the runner first.
const (
	simArgsEnv = "AGENTWATT_RUNNER_TEST_SIM_ARGS"
	probeEnv   = "AGENTWATT_RUNNER_TEST_PROBE"
)

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "":
		os.Exit(m.Run())
	case "agentwatt":
		if len(os.Args) > 2 && os.Args[2] == "node" {
			os.Exit(simNode(os.Args[1:]))
		}
		os.Exit(simServe(os.Args[1:]))
	case "runner":
		os.Exit(runnerProcess())
	default:
		fmt.Fprintf(os.Stderr, "unknown role %q\n", os.Getenv(roleEnv))
		os.Exit(2)
	}
}

// printProbe writes, as one line of the engine log, what this engine
// process can see of the runner: its key, its environment, its directory.
func printProbe(keyPath string) {
	wd, _ := os.Getwd()
	key, keyErr := os.ReadFile(keyPath)
	penv, penvErr := os.ReadFile(fmt.Sprintf("/proc/%d/environ", os.Getppid()))
	ents, _ := os.ReadDir(".")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	fmt.Fprintf(os.Stderr, "probe uid=%d dir=%s entries=%q key=%q key_err=%v parent_environ=%q parent_err=%v env=%q\n",
		os.Getuid(), wd, names, key, keyErr, penv, penvErr, os.Environ())
}

// simServe is `agentwatt sim serve` with the flags the tests use.
func simServe(args []string) int {
	if len(args) < 2 || args[0] != "sim" || args[1] != "serve" {
		fmt.Fprintf(os.Stderr, "want 'sim serve', got %q\n", strings.Join(args, " "))
		return 2
	}
	fs := flag.NewFlagSet("sim serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "")
	profile := fs.String("profile", "tiny", "")
	version := fs.String("framework-version", "", "")
	set := fs.String("accuracy-set", "", "")
	crash := fs.Int("fault-crash-after", 0, "")
	slow := fs.Duration("fault-slow-start", 0, "")
	serverErrors := fs.Float64("fault-server-error-rate", 0, "")
	specAccept := fs.Float64("spec-accept", 0, "")
	if err := fs.Parse(append(args[2:], strings.Fields(os.Getenv(simArgsEnv))...)); err != nil {
		return 2
	}
	if keyPath := os.Getenv(probeEnv); keyPath != "" {
		printProbe(keyPath)
	}
	p, err := sim.DefaultProfile(*profile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg := sim.Config{Profile: p, Seed: 1, FrameworkVersion: *version}
	cfg.Faults.CrashAfterRequests = *crash
	cfg.Faults.SlowStart = *slow
	cfg.Faults.ServerErrorRate = *serverErrors
	cfg.SpecAccept = *specAccept
	if *set != "" {
		if cfg.Accuracy, err = sim.LoadAccuracySet(*set); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	srv, err := sim.NewServer(cfg, zerolog.New(os.Stderr))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	url, err := srv.Start(ctx, *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("listening on %s\n", url)
	select {
	case <-ctx.Done():
		srv.Stop()
		return 0
	case <-srv.Crashed():
		srv.Stop()
		return 3
	}
}

// nodeArgsEnv holds extra `sim node` flags for one member node of a sim
// rack: "<member>:<flags>", applied only by the node of that member.
const nodeArgsEnv = "AGENTWATT_RUNNER_TEST_NODE_ARGS"

// simNode is `agentwatt sim node` with the flags the tests use.
func simNode(args []string) int {
	fs := flag.NewFlagSet("sim node", flag.ContinueOnError)
	profile := fs.String("profile", "", "")
	member := fs.Int("member", 0, "")
	frontend := fs.String("frontend", "", "")
	listen := fs.String("listen", "127.0.0.1:0", "")
	gapAfter := fs.Duration("fault-power-gap-after", 0, "")
	gapFor := fs.Duration("fault-power-gap-for", 0, "")
	if err := fs.Parse(args[2:]); err != nil {
		return 2
	}
	if who, extra, ok := strings.Cut(os.Getenv(nodeArgsEnv), ":"); ok && who == strconv.Itoa(*member) {
		if err := fs.Parse(strings.Fields(extra)); err != nil {
			return 2
		}
	}
	p, err := sim.DefaultProfile(*profile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	n, err := sim.NewNode(sim.NodeConfig{Profile: p, Member: *member, FrontendURL: *frontend, Seed: 1,
		Faults: sim.Faults{PowerGapAfter: *gapAfter, PowerGapFor: *gapFor}}, zerolog.New(os.Stderr))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer n.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: n, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("listening on http://%s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	_ = srv.Close()
	return 0
}
