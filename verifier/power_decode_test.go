package verifier

import (
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/bundle"
)

// TestDecodePowerLinesErrors: bad lines are refused with their line
// number, whichever path reads them.
func TestDecodePowerLinesErrors(t *testing.T) {
	good := `{"gpu":0,"t_mono_ns":100000000,"energy_mj":123456789.25,"power_w":412.5,"t_unix_ns":1700000000100000000,"power_source":"nvml-instant"}`
	tests := []struct {
		name, data, want string
	}{
		{"not JSON", good + "\n{\"gpu\":\n", bundle.PowerFile + ":2:"},
		{"wrong type", good + "\n" + good + "\n{\"gpu\":\"zero\"}\n", bundle.PowerFile + ":3:"},
		{"negative gpu", "{\"gpu\":-2,\"t_mono_ns\":1}\n", bundle.PowerFile + ":1: gpu -2 negative"},
		{"blank", good + "\n\n", bundle.PowerFile + ":2: blank line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lr := bundle.NewLineReader(strings.NewReader(tc.data), 1024)
			_, err := decodePowerLines(lr.Next)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}
