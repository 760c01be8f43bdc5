package verifiertest

import (
	"encoding/json"
	"strings"

	"github.com/agentwatt/agentwatt/bundle"
)

// H200Inventory is what an 8×H200 node's runner records.
const H200Inventory = `{"source":"nvml","driver_version":"570.86.15","nvml_version":"12.570.86.15","cuda_version":"12.8",
"collected_at":"2026-12-01T00:00:00Z","gpus":[` +
	`{"index":0,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-0","power_limit_w":700,"enforced_power_limit_w":700},` +
	`{"index":1,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-1","power_limit_w":700,"enforced_power_limit_w":700},` +
	`{"index":2,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-2","power_limit_w":700,"enforced_power_limit_w":700},` +
	`{"index":3,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-3","power_limit_w":700,"enforced_power_limit_w":700},` +
	`{"index":4,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-4","power_limit_w":700,"enforced_power_limit_w":700},` +
	`{"index":5,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-5","power_limit_w":700,"enforced_power_limit_w":700},` +
	`{"index":6,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-6","power_limit_w":700,"enforced_power_limit_w":700},` +
	`{"index":7,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-7","power_limit_w":700,"enforced_power_limit_w":700}]}`

// RelabelAsH200 is the attack of a sim runner that claims hardware: the
// manifest and summary say simulated=false, pool h200x8, with an 8×H200
// inventory; the records and the sim power samples stay as measured.
func RelabelAsH200(job string) func(dir string) error {
	return func(dir string) error {
		if err := EditJSON(dir, bundle.SummaryFile, func(s *bundle.Summary) {
			s.Simulated, s.PowerBoundary = false, "gpu-board"
		}); err != nil {
			return err
		}
		return EditJSON(dir, bundle.ManifestFile, func(m *bundle.Manifest) {
			m.Simulated = false
			m.Inventory = json.RawMessage(H200Inventory)
			m.Pool = "h200x8"
			if job != "" {
				m.Job = job
			}
		})
	}
}

// FailedReasons lists a verdict's failed checks and their reasons, for a
// test's failure message.
func FailedReasons(v *bundle.Verdict) string {
	var parts []string
	for _, c := range v.Failed() {
		parts = append(parts, c.Name+": "+c.Reason)
	}
	return strings.Join(parts, " | ")
}
