package engine

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// CreateJobNetwork creates the job's own network (JobNetwork) for an engine
// of several containers, replacing one a dead runner left.
func CreateJobNetwork(ctx context.Context, runtime, jobID string) error {
	if runtime == "" {
		runtime = DefaultRuntime
	}
	if !jobIDRe.MatchString(jobID) {
		return invalidf("job id %q: want letters, digits, '_', '.', '-'", jobID)
	}
	_ = RemoveNetwork(ctx, runtime, JobNetwork(jobID))
	out, err := runtimeCmd(ctx, runtime, JobNetworkCreateArgs(jobID)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("create job network %s: %v: %s", JobNetwork(jobID), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// RemoveNetwork removes a network; an absent one is not an error.
func RemoveNetwork(ctx context.Context, runtime, name string) error {
	if runtime == "" {
		runtime = DefaultRuntime
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := runtimeCmd(ctx, runtime, NetworkRemoveArgs(name)...).CombinedOutput()
	if err != nil && !strings.Contains(strings.ToLower(string(out)), "not found") {
		return fmt.Errorf("remove network %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// WaitEndpoint polls url (an engine's health URL that the runner did not
// launch: an external deployment) until it answers 200 or timeout passes.
// A failure is a *ReadyError without a log tail: the runner has no log of
// an engine it did not start.
func WaitEndpoint(ctx context.Context, url string, timeout time.Duration) error {
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		// An endpoint's redirect is not followed: the runner asks only
		// the address its operator configured.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		if ok, answer := probeHealth(wctx, client, url); ok {
			return nil
		} else if answer != "" {
			last = answer
		}
		select {
		case <-wctx.Done():
			err := ErrNotReady
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return &ReadyError{Err: err, Waited: time.Since(start), Last: last, URL: url}
		case <-tick.C:
		}
	}
}
