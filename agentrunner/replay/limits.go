package replay

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/agentwatt/agentwatt/agentrunner/loadgen"
	"github.com/agentwatt/agentwatt/workload"
)

// agentLimit is the most agents a run may start, and why: the least of the
// engine's reported sequence limit, the profile's max_agents, the caller's
// MaxAgents and the agents the memory budget holds. A search never probes
// above it; Fixed refuses an N above it.
type agentLimit struct {
	n   int
	why string
}

// streamBytes is what one stream (an agent or a sub-agent) holds beyond
// its request's piece list: its connection's 32 KiB read and 64 KiB write
// buffers, the goroutines of the agent and of the connection, the SSE
// decoder and the records kept until the probe is evaluated
// (docs/performance.md measures ≈ 0.2 MiB per agent).
const streamBytes = 192 << 10

// pieceBytes is one entry of a request's piece list: a slice header
// pointing into the shared block text.
const pieceBytes = 24

// BytesPerAgent estimates the memory one agent of w holds while it runs:
// its streams (the root agent and every sub-agent one trajectory can run
// at once), each with its connection and the piece list of the longest
// history it may send. The synthesised block text is shared by every
// agent and not counted.
func BytesPerAgent(w *workload.Workload) int64 {
	var most int64
	for _, t := range w.Trajectories {
		most = max(most, trajectoryBytes(t))
	}
	return max(most, streamBytes)
}

func trajectoryBytes(t *workload.Trajectory) int64 {
	pieces := 0
	for i := range t.Turns {
		for j := range t.Turns[i].Input {
			pieces += t.Turns[i].Input[j].Units() + 1
		}
	}
	b := int64(streamBytes + pieceBytes*pieces)
	for _, s := range t.Subagents {
		b += trajectoryBytes(s)
	}
	return b
}

// DefaultMemoryBudget is the memory a run's agents may use when the caller
// sets none: half of what this machine (or its cgroup, when that is
// smaller) has available now; 2 GiB when neither can be read.
func DefaultMemoryBudget() int64 {
	avail := meminfoAvailable()
	if lim := cgroupAvailable(); lim > 0 && (avail == 0 || lim < avail) {
		avail = lim
	}
	if avail <= 0 {
		return 2 << 30
	}
	return avail / 2
}

// meminfoAvailable is MemAvailable from /proc/meminfo in bytes; 0 when it
// cannot be read.
func meminfoAvailable() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// cgroupAvailable is the cgroup v2 memory limit minus the current use; 0
// without a limit.
func cgroupAvailable() int64 {
	read := func(name string) int64 {
		data, err := os.ReadFile("/sys/fs/cgroup/" + name)
		if err != nil {
			return 0
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil {
			return 0
		}
		return n
	}
	lim := read("memory.max")
	if lim <= 0 {
		return 0
	}
	return max(lim-read("memory.current"), 1)
}

// engineSequences asks the server's /v1/models for the served model's
// concurrent sequence limit; 0 when it reports none or cannot be asked.
func (r *Runner) engineSequences(ctx context.Context) (int, string) {
	list, err := loadgen.ListModels(ctx, r.cfg.Endpoint, r.cfg.APIKey)
	if err != nil {
		r.log.Debug().Err(err).Msg("no sequence limit read from /v1/models")
		return 0, ""
	}
	for _, m := range list {
		if m.ID == r.Model() {
			return m.MaxSequences, m.SequencesField
		}
	}
	return 0, ""
}

// limit derives the run's agent limit; seqs is the engine's reported
// sequence limit (0: none).
func (r *Runner) limit(seqs int, field string) agentLimit {
	prof := r.cfg.Profile
	l := agentLimit{n: prof.MaxAgents, why: fmt.Sprintf("the %s profile's max_agents (%d)", prof.Name, prof.MaxAgents)}
	if l.n <= 0 {
		l = agentLimit{n: maxInt, why: "no limit"}
	}
	if seqs > 0 && seqs < l.n {
		l = agentLimit{n: seqs, why: fmt.Sprintf("the engine's reported limit of %d concurrent sequences (%s in /v1/models)", seqs, field)}
	}
	if m := r.cfg.MaxAgents; m > 0 && m < l.n {
		l = agentLimit{n: m, why: fmt.Sprintf("the run's maximum of %d agents (--max-agents)", m)}
	}
	per := BytesPerAgent(r.cfg.Workload)
	if m := r.cfg.MemoryBudget / per; m < int64(l.n) {
		l = agentLimit{n: int(max(m, 0)), why: fmt.Sprintf(
			"the memory budget of %d MiB (--memory-budget-mib): about %d KiB per agent of this workload, so at most %d agents",
			r.cfg.MemoryBudget>>20, per>>10, m)}
	}
	return l
}

const maxInt = int(^uint(0) >> 1)

// over explains why n agents exceed the limit.
func (l agentLimit) over(n int) string {
	return fmt.Sprintf("N=%d exceeds %s", n, l.why)
}
