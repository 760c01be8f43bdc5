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
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/accounts"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/spec"
)

// JobQueue is what the intake needs of the queue.
type JobQueue interface {
	Enqueue(ctx context.Context, j queue.NewJob) (*queue.Job, bool, error)
	Get(ctx context.Context, id string) (*queue.Job, error)
	List(ctx context.Context, f queue.Filter) ([]*queue.Job, error)
	Cancel(ctx context.Context, id, by string) (*queue.Job, error)
}

// Authenticator turns a bearer token into whom it belongs to (an
// *accounts.Store), or accounts.ErrUnauthorized.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (accounts.Principal, error)
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
	// Limits bounds each vendor's and maintainer's use of the API.
	Limits Limits
}

// Intake serves the submission and job API. Every route needs a bearer
// token, checked from the headers before any body is read:
//
//	POST /v1/submissions         YAML body; a vendor's token, for its own vendor
//	GET  /v1/jobs/{id}           the job's vendor, or a maintainer
//	GET  /v1/jobs?state=&vendor=&pool=&limit=&cursor=
//	                             a vendor's own jobs, or every job for a maintainer
//	POST /v1/jobs/{id}/cancel    the job's vendor, or a maintainer
type Intake struct {
	q      JobQueue
	auth   Authenticator
	cfg    IntakeConfig
	log    zerolog.Logger
	limits *limiter
}

// NewIntake returns the intake API over q, whose callers auth
// authenticates.
func NewIntake(q JobQueue, auth Authenticator, cfg IntakeConfig, log zerolog.Logger) *Intake {
	return &Intake{q: q, auth: auth, cfg: cfg, log: log, limits: newLimiter(cfg.Limits)}
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

// MaxTriggerLen is the longest trigger the intake accepts.
const MaxTriggerLen = 128

// triggerRe is what a trigger may look like: it is stored in the job record
// and printed by status, so printable ASCII without spaces only.
var triggerRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/#+=-]*$`)

// FilenameHeader names the file a submission was read from, path-escaped
// (url.PathEscape): the intake's problems are located in it, as `agentwatt
// validate` locates them. Only the base name is kept.
const FilenameHeader = "X-Agentwatt-Filename"

// DefaultFilename labels the problems of a submission that names no file.
const DefaultFilename = "submission"

// MaxFilenameLen is the longest file name the intake accepts, in bytes.
const MaxFilenameLen = 255

// SubmitResponse is the body of a 202 answer to a submission.
type SubmitResponse struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	Pool    string `json:"pool"`
	Created bool   `json:"created"`
}

// ProblemsResponse is the body of a 400 answer to an invalid submission.
type ProblemsResponse struct {
	Error string `json:"error"`
	// File is the submission's file name (FilenameHeader), or DefaultFilename.
	File     string          `json:"file,omitempty"`
	Problems []ProblemDetail `json:"problems"`
}

// ProblemDetail is one problem in a submission, located in the YAML body.
type ProblemDetail struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// Text is FILE:LINE:COL: message, as `agentwatt validate` prints it.
	Text string `json:"text"`
}

// submit checks everything the headers tell (token, role, trigger, rate)
// before it reads the body, so that nobody without a token can make the
// server read or hold one.
func (in *Intake) submit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, ok := in.authenticate(w, r)
	if !ok {
		return
	}
	if p.Role != accounts.RoleVendor {
		writeError(w, http.StatusForbidden, fmt.Sprintf("a %s token cannot submit; submit with the vendor's token", p.Role))
		return
	}
	trigger, err := triggerOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	file, err := filenameOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !in.limits.allowSubmit(w, p) {
		return
	}
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
	sub, err := spec.Parse(file, body)
	if err != nil {
		var probs spec.Problems
		if errors.As(err, &probs) {
			writeJSON(w, http.StatusBadRequest, problemsResponse(file, probs))
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if sub.Metadata.Vendor != p.Name {
		writeError(w, http.StatusForbidden, fmt.Sprintf("token belongs to vendor %q, submission is for vendor %q", p.Name, sub.Metadata.Vendor))
		return
	}
	if err := sim.CheckSubmission(sub); err != nil {
		msg := err.Error()
		writeJSON(w, http.StatusBadRequest, ProblemsResponse{
			Error: "invalid submission", File: file,
			Problems: []ProblemDetail{{File: file, Field: "engine.sim_profile", Message: msg, Text: file + ": " + msg}},
		})
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
				Error: "invalid submission", File: file,
				Problems: []ProblemDetail{{File: file, Field: "benchmark.workload", Message: msg, Text: file + ": " + msg}},
			})
			return
		}
	}
	job, err := in.enqueue(ctx, sub, trigger)
	if errors.Is(err, errQueuedFull) {
		tooMany(w, in.limits.cfg.QueuedRetryAfter, fmt.Sprintf("vendor %q has %d jobs queued, the most it may have at once", p.Name, in.limits.cfg.MaxQueued))
		return
	}
	if err != nil {
		in.log.Error().Err(err).Str("vendor", p.Name).Msg("enqueue submission")
		writeError(w, http.StatusServiceUnavailable, "enqueue: "+err.Error())
		return
	}
	in.log.Info().Str("job", job.job.ID).Str("vendor", p.Name).Str("pool", job.job.Pool).Bool("created", job.created).Msg("submission accepted")
	writeJSON(w, http.StatusAccepted, SubmitResponse{ID: job.job.ID, State: string(job.job.State), Pool: job.job.Pool, Created: job.created})
}

type enqueued struct {
	job     *queue.Job
	created bool
}

// errQueuedFull: the vendor has Limits.MaxQueued jobs queued.
var errQueuedFull = errors.New("too many queued jobs")

// enqueue queues sub under trigger unless its vendor's queued jobs are at the
// cap. A job that exists already is returned as it is, cap or not.
func (in *Intake) enqueue(ctx context.Context, sub *spec.Submission, trigger string) (enqueued, error) {
	canon, err := sub.Canonical()
	if err != nil {
		return enqueued{}, fmt.Errorf("canonical spec: %w", err)
	}
	vendor := sub.Metadata.Vendor
	defer in.limits.lockVendor(vendor)()
	_, err = in.q.Get(ctx, queue.JobID(sub.Digest(), trigger))
	switch {
	case errors.Is(err, queue.ErrJobNotFound):
		full, err := in.limits.queuedFull(ctx, in.q, vendor)
		if err != nil {
			return enqueued{}, err
		}
		if full {
			return enqueued{}, errQueuedFull
		}
	case err != nil:
		return enqueued{}, err
	}
	ref, digest := sub.WorkloadName(), sub.WorkloadDigest()
	job, created, err := in.q.Enqueue(ctx, queue.NewJob{
		Vendor:         vendor,
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

// triggerOf returns the request's trigger, DefaultTrigger when it names none.
func triggerOf(r *http.Request) (string, error) {
	t := strings.TrimSpace(r.Header.Get(TriggerHeader))
	switch {
	case t == "":
		return DefaultTrigger, nil
	case len(t) > MaxTriggerLen:
		return "", fmt.Errorf("%s: %d bytes, at most %d", TriggerHeader, len(t), MaxTriggerLen)
	case !triggerRe.MatchString(t):
		return "", fmt.Errorf("%s: %q: want letters, digits and . _ : @ / # + = - only, starting with a letter or digit", TriggerHeader, t)
	}
	return t, nil
}

// filenameOf returns the request's file name (FilenameHeader, unescaped and
// reduced to its base name), DefaultFilename when it names none. The name is
// echoed in problems that clients print on terminals, so it must be printable
// text without path separators.
func filenameOf(r *http.Request) (string, error) {
	raw := strings.TrimSpace(r.Header.Get(FilenameHeader))
	if raw == "" {
		return DefaultFilename, nil
	}
	name, err := url.PathUnescape(raw)
	switch {
	case err != nil:
		return "", fmt.Errorf("%s: %v", FilenameHeader, err)
	case len(name) > MaxFilenameLen:
		return "", fmt.Errorf("%s: %d bytes, at most %d", FilenameHeader, len(name), MaxFilenameLen)
	case !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "", fmt.Errorf("%s: %q: want printable text", FilenameHeader, name)
	case strings.ContainsAny(name, `/\`) || name == "." || name == "..":
		return "", fmt.Errorf("%s: %q: want a file's base name, not a path", FilenameHeader, name)
	}
	return name, nil
}

// NewTrigger returns a fresh trigger, for callers that want a new job for a spec
// that was submitted before (the demo, retries).
func NewTrigger(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
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

func problemsResponse(file string, probs spec.Problems) ProblemsResponse {
	out := ProblemsResponse{Error: "invalid submission", File: file, Problems: make([]ProblemDetail, 0, len(probs))}
	for _, p := range probs {
		out.Problems = append(out.Problems, ProblemDetail{
			File: p.File, Line: p.Line, Col: p.Col, Field: p.Field, Message: p.Message,
			Text: p.String(),
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
