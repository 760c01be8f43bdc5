package hardware

import (
	"errors"
	"testing"
)

func TestAccelerator(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		ok   bool
	}{
		{"h100 sxm", "NVIDIA H100 80GB HBM3", "h100", true},
		{"h100 pcie", "NVIDIA H100 PCIe", "h100", true},
		{"h100 nvl", "NVIDIA H100 NVL", "h100", true},
		{"h200", "NVIDIA H200", "h200", true},
		{"h200 mock name", "NVIDIA H200 141GB HBM3e", "h200", true},
		{"h200 nvl", "NVIDIA H200 NVL", "h200", true},
		{"h20 is not h200", "NVIDIA H20", "h20", true},
		{"gh200 is not h200", "NVIDIA GH200 480GB", "gh200", true},
		{"b200", "NVIDIA B200", "b200", true},
		{"b200 mock name", "NVIDIA B200 180GB HBM3e", "b200", true},
		{"b300", "NVIDIA B300 SXM6 AC", "b300", true},
		{"gb200", "NVIDIA GB200", "gb200", true},
		{"gb300", "NVIDIA GB300", "gb300", true},
		{"a100 sxm4 dashes", "NVIDIA A100-SXM4-80GB", "a100", true},
		{"a100 pcie", "NVIDIA A100 80GB PCIe", "a100", true},
		{"a100 mock prefix", "Mock NVIDIA A100-SXM4-40GB", "a100", true},
		{"l40s", "NVIDIA L40S", "l40s", true},
		{"l40", "NVIDIA L40", "l40", true},
		{"l4", "NVIDIA L4", "l4", true},
		{"a10g", "NVIDIA A10G", "a10g", true},
		{"v100 tesla", "Tesla V100-SXM2-32GB", "v100", true},
		{"unknown workstation card", "NVIDIA RTX 6000 Ada Generation", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Accelerator(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Accelerator(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPool(t *testing.T) {
	gpus := func(names ...string) []GPU {
		var out []GPU
		for i, n := range names {
			a, _ := Accelerator(n)
			out = append(out, GPU{Index: i, Name: n, Accelerator: a})
		}
		return out
	}
	h100, h200 := "NVIDIA H100 80GB HBM3", "NVIDIA H200"
	tests := []struct {
		name    string
		gpus    []GPU
		want    string
		wantErr error
	}{
		{"one h100", gpus(h100), "h100x1", nil},
		{"eight h200", gpus(h200, h200, h200, h200, h200, h200, h200, h200), "h200x8", nil},
		{"two b300", gpus("NVIDIA B300 SXM6 AC", "NVIDIA B300 SXM6 AC"), "b300x2", nil},
		{"no gpus", nil, "", ErrNoGPUs},
		{"mixed", gpus(h100, h200), "", ErrMixedGPUs},
		{"unknown", gpus("NVIDIA RTX 6000 Ada Generation"), "", ErrUnknownAccelerator},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := Inventory{GPUs: tt.gpus}
			got, err := inv.Pool()
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Pool() error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Pool() = %q, want %q", got, tt.want)
			}
		})
	}
}
