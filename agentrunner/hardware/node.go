package hardware

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/agentwatt/agentwatt/agentrunner/power"
	"github.com/agentwatt/agentwatt/spec"
)

// Node is the machine a runner runs on, as the runner needs it: the pool it
// takes jobs of and, on a GPU node, its GPUs through NVML. A sim runner's
// Node has no NVML and an empty inventory: it never pretends to have GPUs.
type Node struct {
	// Pool is the pool the runner serves: a sim pool (spec.SimPool: "sim",
	// or "simx<N>" for a member of a simulated rack's group) on a sim runner.
	Pool string
	// NVML is the GPUs' session; nil on a sim runner.
	NVML *NVML
	// Inventory is the GPUs as read when the node was opened.
	Inventory Inventory
	// NoDriver reports that no NVIDIA driver was found, so the node runs as
	// a sim runner (unless it has AMD GPUs).
	NoDriver bool
	// DRMRoot is set on a node whose GPUs are AMD's, read through the
	// amdgpu driver's sysfs under it (power.DefaultDRMRoot); KFDProcs is
	// where the driver lists compute processes.
	DRMRoot, KFDProcs string
}

// amdRoots are where openNode looks for AMD GPUs when NVML has no driver
// (tests point them at recorded trees).
var amdRoots = struct{ drm, kfd string }{power.DefaultDRMRoot, DefaultKFDProcs}

// OpenNode finds the node's GPUs (Open) and decides the runner's pool from
// the pool the operator named (--pool; "" when none):
//   - without an NVIDIA driver, AMD GPUs (amdgpu sysfs, AMDInventory) make
//     an AMD node, unless the pool is sim;
//   - with neither only the sim pool is possible: "" or sim gives a sim
//     runner, any other pool is an error matching ErrNoNVML;
//   - sim on a GPU node gives a sim runner, its GPUs unused;
//   - a named hardware pool is taken as named (the operator may have
//     restricted the runner's GPUs);
//   - no pool derives it from the GPUs (Inventory.Pool): one known model,
//     counted, "h200x8".
//
// Close ends the NVML session.
func OpenNode(pool string) (*Node, error) { return openNode(Open, pool) }

// OpenNodeLib is OpenNode on a given NVML implementation (go-nvml's mock
// package in tests).
func OpenNodeLib(lib nvml.Interface, pool string) (*Node, error) {
	return openNode(func() (*NVML, error) { return OpenLib(lib) }, pool)
}

func openNode(open func() (*NVML, error), pool string) (*Node, error) {
	n, err := open()
	if errors.Is(err, ErrNoNVML) && pool != spec.Sim {
		if inv, aerr := AMDInventory(amdRoots.drm); aerr == nil {
			return amdNode(inv, pool)
		}
	}
	if errors.Is(err, ErrNoNVML) {
		if pool != "" && !spec.SimPool(pool) {
			return nil, fmt.Errorf("--pool %s: %w", pool, err)
		}
		return &Node{Pool: cmp.Or(pool, spec.Sim), NoDriver: true}, nil
	}
	if err != nil {
		return nil, err
	}
	if spec.SimPool(pool) {
		_ = n.Close()
		return &Node{Pool: pool}, nil
	}
	inv := n.Inventory()
	if pool == "" {
		if pool, err = inv.Pool(); err != nil {
			_ = n.Close()
			return nil, fmt.Errorf("derive the pool from the GPUs (name it with --pool): %w", err)
		}
	}
	return &Node{Pool: pool, NVML: n, Inventory: inv}, nil
}

func amdNode(inv Inventory, pool string) (*Node, error) {
	if pool == "" {
		var err error
		if pool, err = inv.Pool(); err != nil {
			return nil, fmt.Errorf("derive the pool from the AMD GPUs (name it with --pool): %w", err)
		}
	}
	return &Node{Pool: pool, Inventory: inv, NoDriver: true, DRMRoot: amdRoots.drm, KFDProcs: amdRoots.kfd}, nil
}

// AMD reports whether the node's GPUs are AMD's (amdgpu sysfs).
func (n *Node) AMD() bool { return n.DRMRoot != "" }

// Close ends the NVML session, if any.
func (n *Node) Close() error {
	if n.NVML == nil {
		return nil
	}
	return n.NVML.Close()
}

// Sim reports whether the node runs as a sim runner.
func (n *Node) Sim() bool { return n.NVML == nil && !n.AMD() }

// GPUs is the node's GPU count (0 on a sim runner).
func (n *Node) GPUs() int { return len(n.Inventory.GPUs) }

// Accelerator is the accelerator name of the node's first GPU ("h100"); ""
// on a sim runner.
func (n *Node) Accelerator() string {
	if len(n.Inventory.GPUs) == 0 {
		return ""
	}
	return n.Inventory.GPUs[0].Accelerator
}

// InventoryJSON is the inventory as registered and written in every
// manifest; nil on a sim runner.
func (n *Node) InventoryJSON() (json.RawMessage, error) {
	if n.Sim() {
		return nil, nil
	}
	return json.Marshal(n.Inventory)
}

// Software is what a manifest records of the node's GPU software (driver,
// NVML, CUDA); nil on a sim runner.
func (n *Node) Software() map[string]string {
	if n.Sim() {
		return nil
	}
	inv := n.Inventory
	if n.AMD() {
		return map[string]string{"driver": "amdgpu " + inv.DriverVersion}
	}
	return map[string]string{"driver": inv.DriverVersion, "nvml": inv.NVMLVersion, "cuda": inv.CUDAVersion}
}

// BusyGPUs reads the GPUs again and lists the compute processes running on
// them, one "gpu <index>: <process>" each; a job's preflight fails on any.
// Nil on a sim runner.
func (n *Node) BusyGPUs() []string {
	if n.Sim() {
		return nil
	}
	if n.AMD() {
		return AMDComputeProcesses(n.KFDProcs)
	}
	var busy []string
	for _, g := range n.NVML.Inventory().GPUs {
		for _, p := range g.Processes {
			busy = append(busy, fmt.Sprintf("gpu %d: %+v", g.Index, p))
		}
	}
	return busy
}
