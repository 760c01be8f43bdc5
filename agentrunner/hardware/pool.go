package hardware

import (
	"fmt"
	"strings"
)

// acceleratorTokens maps a word of an NVML device name to the accelerator
// name submissions use (spec.KnownAccelerators, and a few more that no
// submission names yet). Names are matched word by word, so "h20" never
// matches "NVIDIA H200" and "h200" never matches "NVIDIA GH200 480GB".
var acceleratorTokens = map[string]string{
	"v100": "v100", "t4": "t4",
	"a100": "a100", "a800": "a800", "a30": "a30", "a40": "a40", "a10": "a10", "a10g": "a10g",
	"l4": "l4", "l40": "l40", "l40s": "l40s",
	"h100": "h100", "h800": "h800", "h20": "h20", "h200": "h200", "gh200": "gh200",
	"b100": "b100", "b200": "b200", "b300": "b300", "gb200": "gb200", "gb300": "gb300",
	// AMD Instinct, by the amdgpu driver's product_name ("AMD Instinct MI300X").
	"mi210": "mi210", "mi250": "mi250", "mi250x": "mi250x",
	"mi300x": "mi300x", "mi300a": "mi300a", "mi325x": "mi325x", "mi350x": "mi350x", "mi355x": "mi355x",
}

// Accelerator maps an NVML device name (or an amdgpu product_name) to an
// accelerator name: "NVIDIA H100 80GB HBM3" → "h100", "NVIDIA H200" →
// "h200", "NVIDIA A100-SXM4-80GB" → "a100", "NVIDIA GB300" → "gb300",
// "AMD Instinct MI300X" → "mi300x". It reports false for a name it does
// not know.
func Accelerator(nvmlName string) (string, bool) {
	f := strings.FieldsFunc(strings.ToLower(nvmlName), func(r rune) bool {
		return r == ' ' || r == '-' || r == '_' || r == '/' || r == ','
	})
	for _, w := range f {
		if a, ok := acceleratorTokens[w]; ok {
			return a, true
		}
	}
	return "", false
}

// PoolName is "<accelerator>x<count>", the queue's pool for a node with
// count such GPUs: "h200x8".
func PoolName(accelerator string, count int) string {
	return fmt.Sprintf("%sx%d", accelerator, count)
}

// Pool derives the node's pool from its GPUs: every GPU must be of one
// known model. It returns ErrNoGPUs, ErrUnknownAccelerator or ErrMixedGPUs
// otherwise; the operator then names the pool with --pool.
func (inv *Inventory) Pool() (string, error) {
	if len(inv.GPUs) == 0 {
		return "", ErrNoGPUs
	}
	var accel string
	for _, g := range inv.GPUs {
		if g.Accelerator == "" {
			return "", fmt.Errorf("GPU %d %q: %w: name the pool with --pool", g.Index, g.Name, ErrUnknownAccelerator)
		}
		if accel != "" && g.Accelerator != accel {
			return "", fmt.Errorf("GPU %d is %s, GPU %d is %s: %w: name the pool with --pool and restrict the runner's GPUs",
				g.Index, g.Accelerator, inv.GPUs[0].Index, accel, ErrMixedGPUs)
		}
		accel = g.Accelerator
	}
	return PoolName(accel, len(inv.GPUs)), nil
}
