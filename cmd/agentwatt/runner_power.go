package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/agentwatt/agentwatt/agentrunner"
	"github.com/agentwatt/agentwatt/agentrunner/hardware"
	"github.com/agentwatt/agentwatt/agentrunner/power"
)

// Power sources a runner (and 'gpu sample') can read.
const (
	powerNVML     = "nvml"
	powerAMDGPU   = "amdgpu"
	powerRedfish  = "redfish"
	powerExternal = "external"
)

// powerFlags choose and configure the power source: the node's GPUs
// (nvml or amdgpu, the gpu-board boundary), its BMC (redfish, the node
// boundary) or an external meter (external).
type powerFlags struct {
	source string

	redfishURL, redfishCreds, redfishChassis string
	redfishInsecure, redfishIntegrate        bool

	meterURL, meterPower, meterEnergy, meterMatch, meterCreds string
	meterInsecure                                             bool
}

func addPowerFlags(fl *pflag.FlagSet, f *powerFlags) {
	fl.StringVar(&f.source, "power-source", "", "power source: nvml or amdgpu (the GPU boards), redfish (the node, at its BMC), external (a meter); default: the node's GPUs")
	fl.StringVar(&f.redfishURL, "redfish-url", "", "the BMC's base URL for --power-source redfish (https only), e.g. https://bmc-7")
	fl.StringVar(&f.redfishCreds, "redfish-credentials", "", `file with the BMC account, {"username": "...", "password": "..."}, mode 600`)
	fl.StringVar(&f.redfishChassis, "redfish-chassis", "", "the chassis Id whose power to read (default: the BMC's only chassis)")
	fl.BoolVar(&f.redfishInsecure, "redfish-insecure", false, "do not verify the BMC's TLS certificate (self-signed BMCs; logged as a warning)")
	fl.BoolVar(&f.redfishIntegrate, "redfish-integrate", false, "integrate the BMC's power readings instead of reading its energy counter (for a counter too coarse for a window, e.g. whole kWh)")
	fl.StringVar(&f.meterURL, "power-meter-url", "", "the meter's Prometheus text endpoint for --power-source external, e.g. http://pdu-7a:9100/metrics")
	fl.StringVar(&f.meterPower, "power-meter-watts", "", "the meter's gauge of watts (e.g. pdu_outlet_power_watts)")
	fl.StringVar(&f.meterEnergy, "power-meter-joules", "", "the meter's counter of joules (e.g. pdu_outlet_energy_joules_total)")
	fl.StringVar(&f.meterMatch, "power-meter-match", "", `labels that select the node's one series, e.g. 'pdu="rack7a",outlet="3"'`)
	fl.StringVar(&f.meterCreds, "power-meter-credentials", "", "file with the meter's account (as --redfish-credentials); https only")
	fl.BoolVar(&f.meterInsecure, "power-meter-insecure", false, "do not verify the meter's TLS certificate (logged as a warning)")
}

// validate checks the flags of the chosen source before anything starts.
func (f *powerFlags) validate() error {
	switch f.source {
	case "", powerNVML, powerAMDGPU:
	case powerRedfish:
		if f.redfishURL == "" || f.redfishCreds == "" {
			return errors.New("--power-source redfish needs --redfish-url and --redfish-credentials")
		}
	case powerExternal:
		if f.meterURL == "" || (f.meterPower == "" && f.meterEnergy == "") {
			return errors.New("--power-source external needs --power-meter-url and --power-meter-watts or --power-meter-joules")
		}
		if _, err := power.ParseLabelMatch(f.meterMatch); err != nil {
			return fmt.Errorf("--power-meter-match: %w", err)
		}
	default:
		return fmt.Errorf("--power-source %q: want nvml, amdgpu, redfish or external", f.source)
	}
	return nil
}

// open opens the chosen source on node n (its GPUs for nvml and amdgpu).
// Redfish and meter sources are opened per call: a job's sampler gets a
// fresh one.
func (f *powerFlags) open(ctx context.Context, n *hardware.Node, log zerolog.Logger) (power.Source, error) {
	src := f.source
	if src == "" {
		src = powerNVML
		if n != nil && n.AMD() {
			src = powerAMDGPU
		}
	}
	switch src {
	case powerNVML:
		if n == nil || n.NVML == nil {
			return nil, errors.New("--power-source nvml: this node has no NVIDIA driver")
		}
		return power.NewNVMLSource(n.NVML.Lib(), n.NVML.Devices()...)
	case powerAMDGPU:
		root := power.DefaultDRMRoot
		if n != nil && n.DRMRoot != "" {
			root = n.DRMRoot
		}
		return power.NewAMDGPUSource(root)
	case powerRedfish:
		c, err := power.LoadCredentials(f.redfishCreds)
		if err != nil {
			return nil, fmt.Errorf("--redfish-credentials: %w", err)
		}
		return power.NewRedfishSource(ctx, power.RedfishConfig{URL: f.redfishURL, Chassis: f.redfishChassis,
			Username: c.Username, Password: c.Password, Insecure: f.redfishInsecure, IntegratePower: f.redfishIntegrate}, log)
	case powerExternal:
		match, _ := power.ParseLabelMatch(f.meterMatch)
		cfg := power.MeterConfig{URL: f.meterURL, PowerMetric: f.meterPower, EnergyMetric: f.meterEnergy, Match: match, Insecure: f.meterInsecure}
		if f.meterCreds != "" {
			c, err := power.LoadCredentials(f.meterCreds)
			if err != nil {
				return nil, fmt.Errorf("--power-meter-credentials: %w", err)
			}
			cfg.Username, cfg.Password = c.Username, c.Password
		}
		if f.meterInsecure {
			log.Warn().Str("meter", f.meterURL).Msg("meter: TLS verification is OFF (--power-meter-insecure)")
		}
		return power.NewMeterSource(ctx, cfg)
	}
	return nil, fmt.Errorf("--power-source %q: want nvml, amdgpu, redfish or external", f.source)
}

// runnerPowerSource is the runner's PowerSourceFunc for a hardware node: it
// opens the source once now, so that a wrong URL, credential or metric
// stops the runner at start rather than fail its first job, and then once
// per job.
func runnerPowerSource(n *hardware.Node, f *powerFlags, log zerolog.Logger) (agentrunner.PowerSourceFunc, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	open := func() (power.Source, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return f.open(ctx, n, log)
	}
	src, err := open()
	if err != nil {
		return nil, fmt.Errorf("power source: %w", err)
	}
	if c, ok := src.(interface{ Close() error }); ok {
		_ = c.Close()
	}
	log.Info().Str("power_source", src.Name()).Str("power_boundary", src.Boundary()).Msg("power source ready")
	return open, nil
}
