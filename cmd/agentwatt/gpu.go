package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/agentrunner/hardware"
	"github.com/agentwatt/agentwatt/agentrunner/power"
	"github.com/agentwatt/agentwatt/spec"
)

func newGPUCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gpu",
		Short: "Show this machine's GPUs and sample their power through NVML",
		Long: `gpu reads the NVIDIA GPUs of this machine through NVML, the library of the
NVIDIA driver (libnvidia-ml.so.1, loaded at run time), exactly as a runner
does: 'gpu info' prints the inventory a runner registers and records in every
bundle, and the pool it derives from it; 'gpu sample' runs the runner's power
sampler for a while and prints what it saw.

Without an NVIDIA driver both exit with status 1 and say so: such a machine
can only run the simulated pool (--pool sim). 'gpu sample --sim URL' samples a
running sim engine instead (simulated power, for trying the command out).`,
		Example: `  agentwatt gpu info
  agentwatt gpu info -o json
  agentwatt gpu sample --seconds 30
  agentwatt gpu sample --seconds 10 --hz 100 -o json --out power.jsonl.zst`,
	}
	return cmd
}

func newGPUInfoCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Print the GPU inventory (NVML, or amdgpu sysfs) and the pool it gives",
		Long: `info prints, per GPU, the name, UUID, serial, memory, architecture, power
limits (now set, enforced, default, and the range an operator may set), SM and
memory clocks (now and max), persistence and MIG mode and the compute processes
running on it, and per node the driver, NVML and CUDA versions. A field NVML
cannot report is listed as unavailable with NVML's reason. On a machine
without an NVIDIA driver it reads AMD GPUs from the amdgpu driver's sysfs
(product name, VRAM, power cap; no clocks or processes).

The pool is "<accelerator>x<count>" (h100x1, h200x8), the queue a runner on
this machine takes jobs from unless given --pool.`,
		Example: `  agentwatt gpu info
  agentwatt gpu info -o json > inventory.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, err := gpuInventory()
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			pool, poolErr := inv.Pool()
			if a.json() {
				out := struct {
					hardware.Inventory
					Pool      string `json:"pool,omitempty"`
					PoolError string `json:"pool_error,omitempty"`
				}{Inventory: inv, Pool: pool}
				if poolErr != nil {
					out.PoolError = poolErr.Error()
				}
				return writeGPUJSON(a.out, out)
			}
			printInventory(a.out, &inv, pool, poolErr)
			return nil
		},
	}
}

// gpuInventory reads the NVIDIA GPUs through NVML or, on a machine without
// an NVIDIA driver, the AMD GPUs through the amdgpu driver's sysfs.
func gpuInventory() (hardware.Inventory, error) {
	n, err := hardware.Open()
	if errors.Is(err, hardware.ErrNoNVML) {
		if inv, aerr := hardware.AMDInventory(""); aerr == nil {
			return inv, nil
		}
	}
	if err != nil {
		return hardware.Inventory{}, err
	}
	defer n.Close()
	return n.Inventory(), nil
}

func printInventory(w io.Writer, inv *hardware.Inventory, pool string, poolErr error) {
	fmt.Fprintf(w, "host %s  driver %s  NVML %s  CUDA %s\n", inv.Hostname, inv.DriverVersion, inv.NVMLVersion, inv.CUDAVersion)
	if poolErr != nil {
		fmt.Fprintf(w, "pool: none (%v)\n", poolErr)
	} else {
		fmt.Fprintf(w, "pool: %s\n", pool)
	}
	for k, v := range inv.Unavailable {
		fmt.Fprintf(w, "unavailable: %s (%s)\n", k, v)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GPU\tNAME\tARCH\tMEMORY\tPOWER LIMIT W (ENFORCED/DEFAULT, MIN–MAX)\tSM MHz (MAX)\tMEM MHz (MAX)\tPERSIST\tMIG\tPROCS")
	for _, g := range inv.GPUs {
		persist := "off"
		if g.PersistenceMode {
			persist = "on"
		}
		mig := g.MIGMode
		if g.MIGPendingMode != "" {
			mig += " (pending " + g.MIGPendingMode + ")"
		}
		limit := fmt.Sprintf("%.0f (%.0f/%.0f, %.0f–%.0f)", g.PowerLimitW, g.EnforcedPowerLimitW, g.DefaultPowerLimitW, g.MinPowerLimitW, g.MaxPowerLimitW)
		if g.PowerLimitChanged() {
			limit += " CHANGED"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.1f GiB\t%s\t%d (%d)\t%d (%d)\t%s\t%s\t%d\n", g.Index, g.Name, g.Architecture,
			float64(g.MemoryBytes)/(1<<30), limit, g.SMClockMHz, g.MaxSMClockMHz, g.MemClockMHz, g.MaxMemClockMHz, persist, mig, len(g.Processes))
	}
	_ = tw.Flush()
	for _, g := range inv.GPUs {
		fmt.Fprintf(w, "\nGPU %d  uuid %s  serial %s  pci %s  compute %s", g.Index, g.UUID, gpuOrDash(g.Serial), gpuOrDash(g.PCIBusID), gpuOrDash(g.ComputeCapability))
		for _, p := range g.Processes {
			fmt.Fprintf(w, "\n  process %d %s  %.1f GiB", p.PID, esc(gpuOrDash(p.Name)), float64(p.UsedMemoryBytes)/(1<<30))
		}
		for k, v := range g.Unavailable {
			fmt.Fprintf(w, "\n  unavailable: %s (%s)", k, v)
		}
		fmt.Fprintln(w)
	}
}

func newGPUSampleCmd(a *app) *cobra.Command {
	var (
		seconds, hz float64
		auxEvery    int
		simURL, out string
		pf          powerFlags
	)
	cmd := &cobra.Command{
		Use:   "sample",
		Short: "Sample GPU power for a while and print what the sampler saw",
		Long: `sample runs the runner's power sampler: per GPU, every 1/--hz seconds, the
cumulative energy counter (nvmlDeviceGetTotalEnergyConsumption) and the
instantaneous power (NVML field FI_DEV_POWER_INSTANT, or
nvmlDeviceGetPowerUsage — a 1 s average on Ampere and newer — where the driver
lacks it), SM clock, temperature and clock-event (throttle) reasons.

Per GPU it prints: samples and the rate achieved; the update period of the
energy counter and of the power reading (median time between new values, to
within the sampling interval: sample at a high --hz to resolve it); energy from
the counter and from the integral of sampled power over the same span and how
far apart they are (the rules allow 5% in a measured window); average, minimum
and maximum power; the largest gap between samples; counter resets; failed
reads; the power source; the clock-event reasons seen. It also prints the
sampler's own CPU cost: this process's CPU time over the wall time, in percent
of one core.

Energy and instant power are read in one NVML call per GPU per sample; the SM
clock, temperature and clock-event reasons (three more calls) once a second,
as a runner reads them. --aux-every N reads those three on every Nth sample
instead (1: every sample, 0: never), to see what they cost.
--out FILE writes every sample as power.jsonl.zst, as a runner's bundle holds
them. It exits 1 without an NVIDIA driver, or when a GPU gave no valid sample.

--power-source samples another source as a runner would: amdgpu (AMD GPUs
through the amdgpu driver's sysfs), redfish (the node at its BMC: --redfish-url,
--redfish-credentials) or external (a meter's Prometheus endpoint:
--power-meter-url, --power-meter-watts and/or --power-meter-joules,
--power-meter-match). A BMC or meter is sampled at the rules' rate of its
boundary (1 Hz) unless --hz is given; its one series is printed as GPU 0.`,
		Example: `  agentwatt gpu sample --seconds 30
  agentwatt gpu sample --seconds 10 --hz 100 -o json
  agentwatt gpu sample --seconds 5 --sim http://127.0.0.1:8000 --out power.jsonl.zst
  agentwatt gpu sample --seconds 30 --power-source redfish --redfish-url https://bmc-7 --redfish-credentials /etc/agentwatt/bmc.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if seconds <= 0 || math.IsInf(seconds, 0) || math.IsNaN(seconds) {
				return fmt.Errorf("--seconds %v: want a positive number", seconds)
			}
			if hz < 0.1 || hz > 1000 || math.IsNaN(hz) {
				return fmt.Errorf("--hz %v: want 0.1 to 1000", hz)
			}
			if err := pf.validate(); err != nil {
				return err
			}
			if auxEvery < 0 {
				return fmt.Errorf("--aux-every %d: want 0 (never) or more", auxEvery)
			}
			rules, err := spec.LoadRules("v1")
			if err != nil {
				return err
			}
			var src power.Source
			switch {
			case simURL != "":
				s := power.NewSimSource(simURL)
				defer s.Close()
				src = s
			case pf.source != "" && pf.source != powerNVML:
				s, err := pf.open(cmd.Context(), nil, a.log)
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				if c, ok := s.(interface{ Close() error }); ok {
					defer c.Close()
				}
				src = s
			default:
				n, err := hardware.Open()
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				defer n.Close()
				ns, err := power.NewNVMLSource(n.Lib(), n.Devices()...)
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				if cmd.Flags().Changed("aux-every") {
					ns.SetAuxEvery(auxEvery)
				}
				src = ns
			}
			// The rules' rate of the source's boundary (a BMC or meter about
			// 1 Hz) unless --hz says otherwise.
			cfg := power.ConfigFor(rules.Power, src.Boundary())
			if cmd.Flags().Changed("hz") {
				cfg.Interval = time.Duration(float64(time.Second) / hz)
			}
			hz = float64(time.Second) / float64(cfg.Interval)
			cfg.MaxGap = max(cfg.MaxGap, 2*cfg.Interval)
			var w *power.Writer
			if out != "" {
				if w, err = power.CreateWriter(out); err != nil {
					return err
				}
				defer w.Abort() // no-op after Close
				cfg.Sink = w
			}
			d := time.Duration(seconds * float64(time.Second))
			a.log.Info().Str("source", src.Name()).Dur("duration", d).Float64("hz", hz).Msg("sampling power")
			m, err := power.Measure(cmd.Context(), src, d, cfg, a.log)
			if err != nil {
				return err
			}
			if w != nil {
				if err := w.Close(); err != nil {
					return err
				}
			}
			if a.json() {
				if err := writeGPUJSON(a.out, m); err != nil {
					return err
				}
			} else {
				printMeasurement(a.out, m, hz)
			}
			if len(m.GPUs) == 0 {
				return &exitError{code: 1, err: errors.New("no GPU gave a sample")}
			}
			for _, g := range m.GPUs {
				if g.Samples == 0 {
					return &exitError{code: 1, err: fmt.Errorf("GPU %d gave no valid sample", g.GPU)}
				}
			}
			return nil
		},
	}
	cmd.Flags().Float64Var(&seconds, "seconds", 10, "how long to sample, in seconds")
	cmd.Flags().Float64Var(&hz, "hz", 10, "samples per second per GPU (default: the rules' rate of the source's boundary: 10 for GPUs, 1 for a BMC or meter)")
	cmd.Flags().IntVar(&auxEvery, "aux-every", 0, "read SM clock, temperature and clock events on every Nth sample (1: every one, 0: never; default: once a second, as a runner does); energy and power are read every time")
	cmd.Flags().StringVar(&simURL, "sim", "", "sample the sim engine at this base URL instead of NVML (simulated power)")
	cmd.Flags().StringVar(&out, "out", "", "also write every sample to this file (power.jsonl.zst format)")
	addPowerFlags(cmd.Flags(), &pf)
	return cmd
}

func printMeasurement(w io.Writer, m *power.Measurement, hz float64) {
	fmt.Fprintf(w, "source %s (%s), %.1f s at %g Hz requested\n", m.Source, m.Boundary, m.Wall.Seconds(), hz)
	fmt.Fprintf(w, "sampler CPU: %.2f%% of one core (%.3f s CPU over %.1f s)\n\n", m.CPUPercent, m.CPU.Seconds(), m.Wall.Seconds())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "GPU\tSAMPLES\tRATE Hz\tCOUNTER UPD ms\tPOWER UPD ms\tCOUNTER J\tINTEGRAL J\tDIFF %\tAVG W\tMIN W\tMAX W\tMAX GAP ms\tRESETS\tERRORS\tREAD ms (MED/MAX)\t")
	for _, g := range m.GPUs {
		fmt.Fprintf(tw, "%d\t%d\t%.2f\t%.1f\t%.1f\t%.2f\t%.2f\t%.3f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%.2f/%.2f\t\n",
			g.GPU, g.Samples, g.RateHz, gpuMS(g.CounterUpdatePeriod), gpuMS(g.PowerUpdatePeriod), g.CounterJ, g.IntegralJ,
			100*g.RelDiff, g.AvgW, g.MinW, g.MaxW, gpuMS(g.MaxGap), g.Resets, g.Errors, gpuMS(g.MedianRead), gpuMS(g.MaxRead))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	for _, g := range m.GPUs {
		fmt.Fprintf(w, "GPU %d  power source %s", g.GPU, gpuOrDash(g.PowerSource))
		if g.MaxTempC > 0 || g.MaxSMClockMHz > 0 {
			fmt.Fprintf(w, "  max temp %d C  SM clock %d–%d MHz", g.MaxTempC, g.MinSMClockMHz, g.MaxSMClockMHz)
		}
		fmt.Fprintf(w, "  clock events: %s\n", gpuOrDash(strings.Join(g.ClockEventNames, ",")))
	}
	const maxEvents = 20
	if len(m.Events) > 0 {
		fmt.Fprintf(w, "\nevents (%d):\n", len(m.Events))
		for i, e := range m.Events {
			if i == maxEvents {
				fmt.Fprintf(w, "  … %d more (see -o json)\n", len(m.Events)-maxEvents)
				break
			}
			fmt.Fprintf(w, "  %8.3f s  gpu %d  %s: %s\n", float64(e.TMonoNs)/1e9, e.GPU, e.Kind, e.Detail)
		}
	}
}

func gpuMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func gpuOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeGPUJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
