package engine

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/agentwatt/agentwatt/sim"
)

// roleEnv makes the test binary play a part in a test instead of running
// the tests: the engine (the sim), a child of the engine, or a runner.
const roleEnv = "AGENTWATT_ENGINE_TEST_ROLE"

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(playRole(role, os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

// playRole runs one part:
//
//	sim       the sim engine on --port, exiting 3 when its crash fault fires
//	spawner   like sim, after starting a child (role sleeper or stubborn)
//	sleeper   sleeps until killed
//	stubborn  sleeps, ignoring SIGTERM
//	exit      prints a line and exits 7
//	runner    starts a spawner engine with the state dir from the env,
//	          prints its pgid once ready, then waits to be killed
//	probe     like sim, after printing what it can see of the runner
//	          (probeReport, one JSON line) in its log
func playRole(role string, args []string) int {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	port := fs.Int("port", 0, "listen port")
	slow := fs.Duration("slow-start", 0, "sim slow start")
	crash := fs.Int("crash-after", 0, "sim crash after N requests")
	child := fs.String("child", "sleeper", "spawner's child role")
	keyPath := fs.String("key", "", "probe: the runner key to try to read")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch role {
	case "sleeper":
		time.Sleep(time.Hour)
		return 0
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Hour)
		return 0
	case "exit":
		fmt.Println("engine: cannot load the model, giving up")
		return 7
	case "spawner":
		self, _ := os.Executable()
		c := exec.Command(self)
		c.Env = append(os.Environ(), roleEnv+"="+*child)
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("child %d\n", c.Process.Pid)
		return serveSim(*port, *slow, *crash)
	case "sim":
		return serveSim(*port, *slow, *crash)
	case "probe":
		b, _ := json.Marshal(probe(*keyPath))
		fmt.Printf("probe %s\n", b)
		return serveSim(*port, *slow, *crash)
	case "runner":
		return runRunner()
	}
	fmt.Fprintf(os.Stderr, "unknown role %q\n", role)
	return 2
}

func serveSim(port int, slow time.Duration, crash int) int {
	ps, err := sim.LoadProfiles("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p, err := sim.LookupProfile(ps, "tiny")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg := sim.Config{Profile: p, Seed: 1}
	cfg.Faults.SlowStart = slow
	cfg.Faults.CrashAfterRequests = crash
	srv, err := sim.NewServer(cfg, zerolog.New(os.Stderr))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	url, err := srv.Start(ctx, "127.0.0.1:"+strconv.Itoa(port))
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

// probeReport is what an engine process sees of the runner that started it:
// what a hostile engine would try to take.
type probeReport struct {
	UID, GID   int
	Groups     []int
	Dir        string
	Env        []string
	KeyErr     string // reading the runner's key; "" when it could
	Key        string
	ParentErr  string // reading /proc/<runner>/environ
	ParentEnv  string
	FDs        []string // descriptors other than 0, 1, 2, the one listing them and the Go runtime's
	CwdEntries []string
}

func probe(keyPath string) probeReport {
	var r probeReport
	r.UID, r.GID = os.Getuid(), os.Getgid()
	r.Groups, _ = os.Getgroups()
	r.Dir, _ = os.Getwd()
	r.Env = os.Environ()
	if b, err := os.ReadFile(keyPath); err != nil {
		r.KeyErr = err.Error()
	} else {
		r.Key = string(b)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", os.Getppid())); err != nil {
		r.ParentErr = err.Error()
	} else {
		r.ParentEnv = string(b)
	}
	if d, err := os.Open("/proc/self/fd"); err == nil {
		names, _ := d.Readdirnames(-1)
		self := strconv.Itoa(int(d.Fd()))
		for _, n := range names {
			target, _ := os.Readlink("/proc/self/fd/" + n)
			// The Go runtime's own: its cgroup CPU limit files, the netpoller.
			own := strings.HasPrefix(target, "/sys/fs/cgroup/") || strings.HasPrefix(target, "anon_inode:")
			if n != "0" && n != "1" && n != "2" && n != self && !own {
				r.FDs = append(r.FDs, n+" -> "+target)
			}
		}
		d.Close()
	}
	if ents, err := os.ReadDir("."); err == nil {
		for _, e := range ents {
			r.CwdEntries = append(r.CwdEntries, e.Name())
		}
	}
	return r
}

// runRunner is a runner that launches an engine and waits to be killed.
func runRunner() int {
	port, _ := strconv.Atoi(os.Getenv("TEST_ENGINE_PORT"))
	self, _ := os.Executable()
	cfg := Config{
		JobID:        "orphan-test",
		Command:      []string{self},
		Args:         []string{"-port", "{port}"},
		Env:          map[string]string{roleEnv: "spawner"},
		HealthPath:   "/health",
		ReadyTimeout: 20 * time.Second,
		Port:         port,
		LogPath:      os.Getenv("TEST_ENGINE_LOG"),
		StateDir:     os.Getenv("TEST_ENGINE_STATE"),
	}
	ctx := context.Background()
	e, err := Start(ctx, cfg, zerolog.Nop())
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	if err := e.WaitReady(ctx); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Printf("pgid %d\n", e.PID())
	time.Sleep(time.Hour)
	return 0
}
