package bots

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

// JobQueue is what the intake needs of the queue.
type JobQueue interface {
	Enqueue(ctx context.Context, j queue.NewJob) (*queue.Job, bool, error)
	Get(ctx context.Context, id string) (*queue.Job, error)
	List(ctx context.Context, f queue.Filter) ([]*queue.Job, error)
	Cancel(ctx context.Context, id, by string) (*queue.Job, error)
	AuthenticateVendor(ctx context.Context, token string) (string, error)
}

// WorkloadResolver pins a workload reference (a name, or name@sha256:…) to the
// digest of the workload it names today. Intake stores the pinned form in the
// job, so a later change of a name's latest version does not change a job.
type WorkloadResolver interface {
	ResolveDigest(ctx context.Context, ref string) (digest string, err error)
}

// IntakeConfig configures the intake API.
type IntakeConfig struct {
	// Workloads pins workload names to digests; nil leaves references as given.
	Workloads WorkloadResolver
}

// Intake serves the submission and job API:
//
//	POST /v1/submissions         YAML body, Authorization: Bearer <vendor token>
//	GET  /v1/jobs/{id}
//	GET  /v1/jobs?state=&vendor=&pool=
//	POST /v1/jobs/{id}/cancel    Authorization: Bearer <token of the job's vendor>
type Intake struct {
	q   JobQueue
	cfg IntakeConfig
	log zerolog.Logger
}

// NewIntake returns the intake API over q.
func NewIntake(q JobQueue, cfg IntakeConfig, log zerolog.Logger) *Intake {
	return &Intake{q: q, cfg: cfg, log: log}
}

// Register adds the intake's routes to mux.
func (in *Intake) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/submissions", in.submit)
	mux.HandleFunc("GET /v1/jobs/{id}", in.getJob)
	mux.HandleFunc("GET /v1/jobs", in.listJobs)
	mux.HandleFunc("POST /v1/jobs/{id}/cancel", in.cancel)
}

// Handler returns the intake API as a handler of its own.
func (in *Intake) Handler() http.Handler {
	mux := http.NewServeMux()
	in.Register(mux)
	return mux
}

// TriggerHeader names the trigger of an API submission. The job id is derived
// from the spec and the trigger, so the same spec with the same trigger is the
// same job; a new trigger runs it again.
const TriggerHeader = "X-Agentwatt-Trigger"

// DefaultTrigger is the trigger of an API submission that names none.
const DefaultTrigger = "api"

// SubmitResponse is the body of a 202 answer to a submission.
type SubmitResponse struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	Pool    string `json:"pool"`
	Created bool   `json:"created"`
}

// ProblemsResponse is the body of a 400 answer to an invalid submission.
type ProblemsResponse struct {
	Error    string          `json:"error"`
	Problems []ProblemDetail `json:"problems"`
}

// ProblemDetail is one problem in a submission, located in the YAML body.
type ProblemDetail struct {
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// Text is LINE:COL: message, as `agentwatt validate` prints it.
	Text string `json:"text"`
}

func (in *Intake) submit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, spec.MaxFileSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("submission is larger than %d bytes", spec.MaxFileSize))
			return
		}
		writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	vendor, ok := in.authenticate(w, r)
	if !ok {
		return
	}
	sub, err := spec.Parse("", body)
	if err != nil {
		var probs spec.Problems
		if errors.As(err, &probs) {
			writeJSON(w, http.StatusBadRequest, problemsResponse(probs))
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if sub.Metadata.Vendor != vendor {
		writeError(w, http.StatusForbidden, fmt.Sprintf("token belongs to vendor %q, submission is for vendor %q", vendor, sub.Metadata.Vendor))
		return
	}
	if in.cfg.Workloads != nil {
		digest, err := in.cfg.Workloads.ResolveDigest(ctx, sub.Benchmark.Workload)
		if err == nil {
			err = sub.PinWorkload(digest)
		}
		if err != nil {
			msg := fmt.Sprintf("benchmark.workload: %q: %v", sub.Benchmark.Workload, err)
			writeJSON(w, http.StatusBadRequest, ProblemsResponse{
				Error:    "invalid submission",
				Problems: []ProblemDetail{{Field: "benchmark.workload", Message: msg, Text: msg}},
			})
			return
		}
	}
	job, err := in.enqueue(ctx, sub, triggerOf(r))
	if err != nil {
		in.log.Error().Err(err).Str("vendor", vendor).Msg("enqueue submission")
		writeError(w, http.StatusServiceUnavailable, "enqueue: "+err.Error())
		return
	}
	in.log.Info().Str("job", job.job.ID).Str("vendor", vendor).Str("pool", job.job.Pool).Bool("created", job.created).Msg("submission accepted")
	writeJSON(w, http.StatusAccepted, SubmitResponse{ID: job.job.ID, State: string(job.job.State), Pool: job.job.Pool, Created: job.created})
}

type enqueued struct {
	job     *queue.Job
	created bool
}

func (in *Intake) enqueue(ctx context.Context, sub *spec.Submission, trigger string) (enqueued, error) {
	canon, err := sub.Canonical()
	if err != nil {
		return enqueued{}, fmt.Errorf("canonical spec: %w", err)
	}
	ref, digest := sub.WorkloadName(), sub.WorkloadDigest()
	job, created, err := in.q.Enqueue(ctx, queue.NewJob{
		Vendor:         sub.Metadata.Vendor,
		Name:           sub.Metadata.Name,
		Pool:           sub.Pool(),
		Spec:           canon,
		SpecDigest:     sub.Digest(),
		Trigger:        trigger,
		Workload:       ref,
		WorkloadDigest: digest,
		Profile:        sub.Benchmark.Profile,
	})
	return enqueued{job: job, created: created}, err
}

func triggerOf(r *http.Request) string {
	if t := strings.TrimSpace(r.Header.Get(TriggerHeader)); t != "" {
		return t
	}
	return DefaultTrigger
}

// NewTrigger returns a fresh trigger, for callers that want a new job for a spec
// that was submitted before (the demo, retries).
func NewTrigger(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

func (in *Intake) getJob(w http.ResponseWriter, r *http.Request) {
	job, err := in.q.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		in.writeQueueError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, job)
}

func (in *Intake) listJobs(w http.ResponseWriter, r *http.Request) {
	f := queue.Filter{Vendor: r.URL.Query().Get("vendor"), Pool: r.URL.Query().Get("pool")}
	if s := r.URL.Query().Get("state"); s != "" {
		st, err := queue.ParseState(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		f.State = st
	}
	jobs, err := in.q.List(r.Context(), f)
	if err != nil {
		in.writeQueueError(w, err)
		return
	}
	if jobs == nil {
		jobs = []*queue.Job{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": jobs})
}

func (in *Intake) cancel(w http.ResponseWriter, r *http.Request) {
	vendor, ok := in.authenticate(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	job, err := in.q.Get(ctx, r.PathValue("id"))
	if err != nil {
		in.writeQueueError(w, err)
		return
	}
	if job.Vendor != vendor {
		writeError(w, http.StatusForbidden, fmt.Sprintf("job %s belongs to vendor %q", job.ID, job.Vendor))
		return
	}
	job, err = in.q.Cancel(ctx, job.ID, "vendor:"+vendor)
	if err != nil {
		in.writeQueueError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, job)
}

// authenticate answers 401 itself when the bearer token is missing or unknown.
func (in *Intake) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentwatt"`)
		writeError(w, http.StatusUnauthorized, "missing bearer token (Authorization: Bearer <vendor token>)")
		return "", false
	}
	vendor, err := in.q.AuthenticateVendor(r.Context(), strings.TrimSpace(token))
	if err != nil {
		if errors.Is(err, queue.ErrUnauthorized) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="agentwatt", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unknown vendor token")
			return "", false
		}
		in.writeQueueError(w, err)
		return "", false
	}
	return vendor, true
}

func (in *Intake) writeQueueError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, queue.ErrJobNotFound), errors.Is(err, queue.ErrInvalid):
		// A malformed job id names no job.
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, queue.ErrBadTransition):
		writeError(w, http.StatusConflict, err.Error())
	default:
		in.log.Error().Err(err).Msg("queue")
		writeError(w, http.StatusServiceUnavailable, err.Error())
	}
}

func problemsResponse(probs spec.Problems) ProblemsResponse {
	out := ProblemsResponse{Error: "invalid submission", Problems: make([]ProblemDetail, 0, len(probs))}
	for _, p := range probs {
		out.Problems = append(out.Problems, ProblemDetail{
			Line: p.Line, Col: p.Col, Field: p.Field, Message: p.Message,
			Text: fmt.Sprintf("%d:%d: %s", p.Line, p.Col, p.Message),
		})
	}
	return out
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
