package bots

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/agentwatt/agentwatt/accounts"
	"github.com/agentwatt/agentwatt/queue"
)

// Limits bounds what one vendor or maintainer may ask of the API. Each is
// counted per token holder (a vendor's tokens share one budget) in this
// server process. The zero value of a field gives its default.
type Limits struct {
	// SubmitRate and SubmitBurst: submissions per second per vendor, as a
	// token bucket (default one every 6s, bursts of 10). Every POST counts,
	// accepted or not.
	SubmitRate  rate.Limit
	SubmitBurst int
	// ReadRate and ReadBurst: job API requests per second per caller
	// (default 5/s, bursts of 30).
	ReadRate  rate.Limit
	ReadBurst int
	// MaxQueued: jobs one vendor may have queued at once (default
	// DefaultMaxQueued). An identical resubmission of a job that exists is
	// not a new job and is always answered. The retest watcher counts its
	// retests against the same cap (QueuedFull).
	MaxQueued int
	// QueuedRetryAfter is the Retry-After of an answer refused for
	// MaxQueued (default 60s): a job leaves the queue when a runner takes it.
	QueuedRetryAfter time.Duration
	// FailedAuthRate and FailedAuthBurst: requests with a missing or unknown
	// token per second per client address (default one per second, bursts
	// of 20). Past them every request from the address is answered 429
	// before its token is looked up, so guessing tokens cannot flood NATS.
	FailedAuthRate  rate.Limit
	FailedAuthBurst int
}

func (l Limits) withDefaults() Limits {
	if l.SubmitRate <= 0 {
		l.SubmitRate = rate.Every(6 * time.Second)
	}
	if l.SubmitBurst <= 0 {
		l.SubmitBurst = 10
	}
	if l.ReadRate <= 0 {
		l.ReadRate = 5
	}
	if l.ReadBurst <= 0 {
		l.ReadBurst = 30
	}
	if l.MaxQueued <= 0 {
		l.MaxQueued = DefaultMaxQueued
	}
	if l.QueuedRetryAfter <= 0 {
		l.QueuedRetryAfter = time.Minute
	}
	if l.FailedAuthRate <= 0 {
		l.FailedAuthRate = 1
	}
	if l.FailedAuthBurst <= 0 {
		l.FailedAuthBurst = 20
	}
	return l
}

// maxFailureAddrs bounds the addresses whose failed authentications are
// counted; past it the count starts afresh, so the map cannot grow without
// bound under a flood from many addresses.
const maxFailureAddrs = 10_000

// limiter holds the token buckets and the per-vendor submission locks. Its
// maps grow with authenticated token holders, and with the addresses that
// failed to authenticate up to maxFailureAddrs.
type limiter struct {
	cfg Limits
	now func() time.Time

	mu       sync.Mutex
	submits  map[string]*rate.Limiter // by vendor
	reads    map[string]*rate.Limiter // by role:name
	failures map[string]*rate.Limiter // by client address
	vendors  map[string]*sync.Mutex   // serializes a vendor's count-then-enqueue
}

func newLimiter(cfg Limits) *limiter {
	return &limiter{
		cfg: cfg.withDefaults(), now: time.Now,
		submits:  map[string]*rate.Limiter{},
		reads:    map[string]*rate.Limiter{},
		failures: map[string]*rate.Limiter{},
		vendors:  map[string]*sync.Mutex{},
	}
}

// authBlocked answers 429 itself when addr has used up its failed
// authentications for now.
func (l *limiter) authBlocked(w http.ResponseWriter, addr string) bool {
	lim := l.failureLimiter(addr, false)
	now := l.now()
	if lim == nil || lim.TokensAt(now) >= 1 {
		return false
	}
	res := lim.ReserveN(now, 1)
	delay := res.DelayFrom(now)
	res.CancelAt(now)
	tooMany(w, delay, fmt.Sprintf("too many requests without a valid token: at most %s per second, bursts of %d", formatRate(l.cfg.FailedAuthRate), l.cfg.FailedAuthBurst))
	return true
}

// authFailed counts a failed authentication against addr.
func (l *limiter) authFailed(addr string) {
	l.failureLimiter(addr, true).AllowN(l.now(), 1)
}

// failureLimiter returns addr's bucket of failed authentications; nil when
// addr has none and create is false.
func (l *limiter) failureLimiter(addr string, create bool) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.failures[addr]
	if !ok && create {
		if len(l.failures) >= maxFailureAddrs {
			clear(l.failures)
		}
		lim = rate.NewLimiter(l.cfg.FailedAuthRate, l.cfg.FailedAuthBurst)
		l.failures[addr] = lim
	}
	return lim
}

// allowSubmit answers 429 itself when p has no submission left for now.
func (l *limiter) allowSubmit(w http.ResponseWriter, p accounts.Principal) bool {
	return l.take(w, l.submits, p.Name, l.cfg.SubmitRate, l.cfg.SubmitBurst, "submissions")
}

// allowRead answers 429 itself when p has no request left for now.
func (l *limiter) allowRead(w http.ResponseWriter, p accounts.Principal) bool {
	return l.take(w, l.reads, string(p.Role)+":"+p.Name, l.cfg.ReadRate, l.cfg.ReadBurst, "requests")
}

func (l *limiter) take(w http.ResponseWriter, m map[string]*rate.Limiter, key string, r rate.Limit, burst int, what string) bool {
	l.mu.Lock()
	lim, ok := m[key]
	if !ok {
		lim = rate.NewLimiter(r, burst)
		m[key] = lim
	}
	l.mu.Unlock()
	now := l.now()
	res := lim.ReserveN(now, 1)
	delay := res.DelayFrom(now)
	if delay == 0 {
		return true
	}
	res.CancelAt(now)
	tooMany(w, delay, fmt.Sprintf("too many %s: at most %s per second, bursts of %d", what, formatRate(r), burst))
	return false
}

// lockVendor serializes a vendor's submissions in this process, so that two
// at once cannot both pass the queued-job cap.
func (l *limiter) lockVendor(vendor string) func() {
	l.mu.Lock()
	mu, ok := l.vendors[vendor]
	if !ok {
		mu = &sync.Mutex{}
		l.vendors[vendor] = mu
	}
	l.mu.Unlock()
	mu.Lock()
	return mu.Unlock
}

// queuedFull reports whether vendor already has MaxQueued jobs queued.
func (l *limiter) queuedFull(ctx context.Context, q JobQueue, vendor string) (bool, error) {
	_, full, err := QueuedFull(ctx, q, vendor, l.cfg.MaxQueued)
	return full, err
}

// DefaultMaxQueued is the default of Limits.MaxQueued.
const DefaultMaxQueued = 20

// JobLister lists jobs (a *queue.Queue).
type JobLister interface {
	List(ctx context.Context, f queue.Filter) ([]*queue.Job, error)
}

// QueuedFull counts vendor's queued jobs and reports whether they are at
// max or above: the cap every path that queues a vendor's new job checks
// (the intake, the retest watcher), so that no path queues past it.
func QueuedFull(ctx context.Context, q JobLister, vendor string, max int) (n int, full bool, err error) {
	jobs, err := q.List(ctx, queue.Filter{Vendor: vendor, State: queue.Queued})
	if err != nil {
		return 0, false, err
	}
	return len(jobs), len(jobs) >= max, nil
}

// tooMany answers 429 with a Retry-After of whole seconds, at least one.
func tooMany(w http.ResponseWriter, after time.Duration, msg string) {
	secs := int64(math.Ceil(after.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeError(w, http.StatusTooManyRequests, fmt.Sprintf("%s; retry after %ds", msg, secs))
}

func formatRate(r rate.Limit) string {
	return strconv.FormatFloat(float64(r), 'g', 3, 64)
}
