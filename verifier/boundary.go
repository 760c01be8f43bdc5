package verifier

import (
	"fmt"
	"strings"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/spec"
)

// samplesBoundary is the power boundary the samples' sources measure
// (bundle.PowerSourceBoundary): what the verifier holds a result to, never
// the summary's word. Failures name sources of no known boundary and a
// mix of boundaries; "" with no valid sample.
func samplesBoundary(sources map[string]int) (string, []string) {
	var fails []string
	boundary := ""
	for _, src := range sortedKeys(sources) {
		b := bundle.PowerSourceBoundary(src)
		switch {
		case b == "":
			fails = append(fails, fmt.Sprintf("%d power samples from source %q, which measures no known power boundary", sources[src], src))
		case boundary != "" && b != boundary:
			fails = append(fails, fmt.Sprintf("power samples of two boundaries, %s and %s (source %q): a result measures one", boundary, b, src))
		case boundary == "":
			boundary = b
		}
	}
	return boundary, fails
}

// boundaryFails compares the summary's claimed power boundary with the one
// the samples measure. A claim of a slower boundary (node, external) would
// loosen the sampling limits and put the result among another boundary's on
// the leaderboard. The first runners wrote "sim" for the sim's boundary.
func boundaryFails(claimed, measured string) []string {
	if claimed == measured || (claimed == "sim" && measured == spec.BoundarySimulated) {
		return nil
	}
	return []string{fmt.Sprintf("summary.json power_boundary %q, but the power samples measure %q", claimed, measured)}
}

// seriesAreGPUs says whether each power series of a boundary is one GPU
// (NVML, amdgpu, the sim); a node's BMC or a meter gives one series for
// the whole node, whose GPUs the inventory counts.
func seriesAreGPUs(boundary string) bool {
	return boundary != spec.BoundaryNode && boundary != spec.BoundaryExternal
}

// hardwareSource reports whether a power source reads hardware (not the
// sim).
func hardwareSource(src string) bool {
	b := bundle.PowerSourceBoundary(src)
	return b != "" && b != spec.BoundarySimulated && !strings.HasPrefix(src, "sim")
}

// inventoryGPUs is the number of GPUs the manifest's inventory lists; 0
// when it does not decode.
func inventoryGPUs(raw []byte) int {
	inv, err := bundle.DecodeInventory(raw)
	if err != nil {
		return 0
	}
	return len(inv.GPUs)
}

// inventoryGPUs is the GPUs of the measured system as inventoried: the
// manifest's for one host, the sum of the members' declared GPUs for a
// runner group (held to their power files and the pool elsewhere).
func (r *run) inventoryGPUs() int {
	if r.group == nil {
		return inventoryGPUs(r.m.Inventory)
	}
	n := 0
	for _, m := range r.group.ms.Members {
		n += m.GPUs
	}
	return n
}
