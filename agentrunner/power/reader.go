package power

import (
	"io"

	"github.com/agentwatt/agentwatt/bundle"
)

// ReadSamples reads a power.jsonl.zst stream this runner wrote
// (bundle.ReadPowerLines); name prefixes errors as NAME:LINE:COL.
func ReadSamples(name string, r io.Reader) ([]Sample, error) {
	return bundle.ReadPowerLines(name, r)
}
