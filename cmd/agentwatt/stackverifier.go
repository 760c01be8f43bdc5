package main

import (
	"context"
	"errors"
	"path/filepath"
	"sync"

	"github.com/agentwatt/agentwatt/verifier"
)

// stackVerifier runs the verifier daemon of the local stack: every uploaded
// bundle is recomputed and the job moved to verified or rejected.
type stackVerifier struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startStackVerifier(ctx context.Context, s *localStack) (*stackVerifier, error) {
	refs, err := gsm8kReferences()
	if err != nil {
		return nil, err
	}
	d := verifier.NewDaemon(verifier.DaemonConfig{
		Queue: s.queue, Store: s.store, References: refs,
		Workloads: registryWorkloads(s.store, filepath.Join(s.cfg.Dir, "verifier", "cache")),
		Log:       s.log.With().Str("component", "verifier").Logger(),
	})
	vctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sv := &stackVerifier{cancel: cancel}
	sv.wg.Add(1)
	go func() {
		defer sv.wg.Done()
		if err := d.Run(vctx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error().Err(err).Msg("local verifier")
		}
	}()
	return sv, nil
}

// Stop stops the daemon; a bundle being verified is handed back to the queue.
func (sv *stackVerifier) Stop() {
	sv.cancel()
	sv.wg.Wait()
}
