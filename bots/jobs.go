package bots

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentwatt/agentwatt/accounts"
	"github.com/agentwatt/agentwatt/queue"
)

// Page sizes of GET /v1/jobs.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// JobsPage is the answer to GET /v1/jobs: jobs oldest first (by creation
// time, then id), at most limit of them.
type JobsPage struct {
	Jobs []*queue.Job `json:"jobs"`
	// Next is the path and query of the following page; empty on the last.
	Next string `json:"next,omitempty"`
	// NextCursor is the cursor parameter of Next.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Redacted replaces each value of engine.env in job specs that the API shows
// to anyone but a maintainer. Secrets are never meant to be in a spec; this
// keeps one that got there from being read back.
const Redacted = "(redacted)"

func (in *Intake) getJob(w http.ResponseWriter, r *http.Request) {
	p, ok := in.authenticate(w, r)
	if !ok || !in.limits.allowRead(w, p) {
		return
	}
	id := r.PathValue("id")
	job, err := in.q.Get(r.Context(), id)
	if err == nil && !mayRead(p, job) {
		// Another vendor's job is answered like a job that does not exist,
		// so that ids cannot be probed.
		err = queue.ErrJobNotFound
	}
	if err != nil {
		in.writeJobError(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, redactFor(p, job))
}

func (in *Intake) listJobs(w http.ResponseWriter, r *http.Request) {
	p, ok := in.authenticate(w, r)
	if !ok || !in.limits.allowRead(w, p) {
		return
	}
	query := r.URL.Query()
	f := queue.Filter{Vendor: query.Get("vendor"), Pool: query.Get("pool")}
	if s := query.Get("state"); s != "" {
		st, err := queue.ParseState(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		f.State = st
	}
	limit, err := pageSize(query.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var after cursor
	if c := query.Get("cursor"); c != "" {
		if after, err = parseCursor(c); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	page := JobsPage{Jobs: []*queue.Job{}}
	if p.Role != accounts.RoleMaintainer {
		if f.Vendor != "" && f.Vendor != p.Name {
			writeJSON(w, http.StatusOK, page) // nothing of another vendor's
			return
		}
		f.Vendor = p.Name
	}
	jobs, err := in.q.List(r.Context(), f)
	if err != nil {
		in.writeQueueError(w, err)
		return
	}
	for _, j := range jobs {
		if !after.before(j) || !mayRead(p, j) {
			continue
		}
		if len(page.Jobs) == limit {
			page.NextCursor = cursorOf(page.Jobs[limit-1]).String()
			query.Set("cursor", page.NextCursor)
			query.Set("limit", strconv.Itoa(limit))
			page.Next = "/v1/jobs?" + query.Encode()
			break
		}
		page.Jobs = append(page.Jobs, redactFor(p, j))
	}
	writeJSON(w, http.StatusOK, page)
}

func (in *Intake) cancel(w http.ResponseWriter, r *http.Request) {
	p, ok := in.authenticate(w, r)
	if !ok || !in.limits.allowRead(w, p) {
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	job, err := in.q.Get(ctx, id)
	if err == nil && !mayRead(p, job) {
		err = queue.ErrJobNotFound
	}
	if err != nil {
		in.writeJobError(w, id, err)
		return
	}
	job, err = in.q.Cancel(ctx, job.ID, string(p.Role)+":"+p.Name)
	if err != nil {
		in.writeQueueError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, redactFor(p, job))
}

// writeJobError answers for a job id that names no job the caller may see
// in one way, whether the job is missing, malformed or another vendor's.
func (in *Intake) writeJobError(w http.ResponseWriter, id string, err error) {
	if errors.Is(err, queue.ErrJobNotFound) || errors.Is(err, queue.ErrInvalid) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("job %q not found", id))
		return
	}
	in.writeQueueError(w, err)
}

func pageSize(s string) (int, error) {
	if s == "" {
		return DefaultPageSize, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("limit %q: want a whole number from 1 to %d", s, MaxPageSize)
	}
	return min(n, MaxPageSize), nil
}

// cursor is the position of the last job of a page, in List's order.
type cursor struct {
	created time.Time
	id      string
}

const cursorVersion = "v1"

func cursorOf(j *queue.Job) cursor { return cursor{created: j.CreatedAt, id: j.ID} }

// String encodes c opaquely: callers pass it back and do not read it.
func (c cursor) String() string {
	raw := cursorVersion + "|" + c.created.UTC().Format(time.RFC3339Nano) + "|" + c.id
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func parseCursor(s string) (cursor, error) {
	bad := fmt.Errorf("cursor %q: not one this server gave out (use the next link of a page)", s)
	if len(s) > 256 {
		return cursor{}, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, bad
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || parts[0] != cursorVersion || parts[2] == "" {
		return cursor{}, bad
	}
	t, err := time.Parse(time.RFC3339Nano, parts[1])
	if err != nil {
		return cursor{}, bad
	}
	return cursor{created: t, id: parts[2]}, nil
}

// before reports whether c comes before j in List's order; the zero cursor
// comes before every job.
func (c cursor) before(j *queue.Job) bool {
	if c.id == "" {
		return true
	}
	if d := c.created.Compare(j.CreatedAt); d != 0 {
		return d < 0
	}
	return c.id < j.ID
}

// redactFor returns j as p may see it: a maintainer sees the record as it
// is; anyone else sees engine.env values replaced by Redacted.
func redactFor(p accounts.Principal, j *queue.Job) *queue.Job {
	if p.Role == accounts.RoleMaintainer || len(j.Spec) == 0 {
		return j
	}
	out := *j
	out.Spec = redactEnv(j.Spec)
	return &out
}

// redactEnv replaces the values of engine.env in a canonical spec. A spec it
// cannot read is left out whole rather than shown.
func redactEnv(spec json.RawMessage) json.RawMessage {
	var top map[string]json.RawMessage
	if json.Unmarshal(spec, &top) != nil {
		return nil
	}
	rawEngine, ok := top["engine"]
	if !ok {
		return spec
	}
	var engine map[string]json.RawMessage
	if json.Unmarshal(rawEngine, &engine) != nil {
		return nil
	}
	rawEnv, ok := engine["env"]
	if !ok {
		return spec
	}
	var env map[string]any
	if json.Unmarshal(rawEnv, &env) != nil {
		return nil
	}
	for k := range env {
		env[k] = Redacted
	}
	var err error
	if engine["env"], err = json.Marshal(env); err != nil {
		return nil
	}
	if top["engine"], err = json.Marshal(engine); err != nil {
		return nil
	}
	out, err := json.Marshal(top)
	if err != nil {
		return nil
	}
	return out
}
