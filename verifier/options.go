package verifier

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// Job is the queue's record of a job, the part the binding reads: what
// the job asked for. The verifier does not read the queue itself; the
// daemon hands the record in (verifyd.JobOf).
type Job struct {
	ID      string
	Attempt int // the job's current attempt
	Pool    string
	// Profile, WorkloadDigest: the record's; empty, the spec's.
	Profile        string
	WorkloadDigest string
	Runner         string // the runner that holds the attempt
	// Started is when the queue leased the current attempt to its runner
	// (the record's history); zero if the record does not say.
	Started    time.Time
	SpecDigest string
	Spec       json.RawMessage // the submitted spec (JSON)
}

// JobSource is what binding a bundle to its job needs: the job's record,
// by the id the bundle's manifest names.
type JobSource interface {
	Get(ctx context.Context, id string) (*Job, error)
}

// Reference is one accuracy question's reference answer (GSM8K: the final
// number of the worked solution).
type Reference struct {
	ID       int
	Expected string
}

// Options are what Verify needs besides the bundle.
type Options struct {
	// Trusted are the enrolled runner keys, by name.
	Trusted map[string]ed25519.PublicKey
	// Scopes are the pools each trusted key may sign results of, by the
	// same names; a key without an entry is unscoped (KeyScope).
	Scopes map[string]KeyScope
	// Revoked are the revoked keys among Trusted, by name: a bundle of
	// such a key is trusted only if its attempt started and its manifest
	// was signed before the revocation (Revocation).
	Revoked map[string]Revocation
	// Workload is the workload the manifest names (checked by digest).
	Workload *workload.Workload
	// References are the accuracy set's reference answers, by question id.
	References []Reference
	// Jobs, when set, is asked for the job's record: the bundle must be of
	// its current attempt and match it (spec, pool, profile, workload,
	// rules, runner, simulated).
	Jobs JobSource
	// Rules and Models default to the embedded files of the manifest's
	// rules version.
	Rules  *spec.Rules
	Models *spec.ModelRefs
	// Model is the model id whose reference score the accuracy gate uses;
	// empty: "sim" for a simulated bundle, else environment.json's model.
	Model string
	// Limits bound what reading the bundle may cost; zero fields take
	// bundle's defaults. MaxRecords bounds the request records read;
	// default DefaultMaxRecords.
	Limits     bundle.Limits
	ZstdLimits bundle.ZstdLimits
	MaxRecords int
	// Now stamps the verdict; default time.Now.
	Now func() time.Time
	Log zerolog.Logger
}

// DefaultMaxRecords bounds the records of one bundle: four times the
// largest run expected. No record is kept, but the probes' accumulators
// keep up to 16 bytes per window request; a stream of tiny records past the
// bound is refused, not read for ever.
const DefaultMaxRecords = 20_000_000

// Per-file limits on the small JSON documents of a bundle.
const (
	maxProbesBytes      = 64 << 20
	maxSummaryBytes     = 64 << 20
	maxEnvironmentBytes = 16 << 20
	maxAccuracyLine     = 1 << 20
	maxAccuracyBytes    = 256 << 20
	maxPowerLine        = 64 << 10
)
