package queue

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// heartbeat tells the server that a delivered message is still being worked
// on (InProgress, "+WPI") every interval, so that a job running for hours is
// not redelivered, and then calls also (a job lease refreshes its lease key,
// which the sweeper reads). InProgress is fire-and-forget: a lost heartbeat is
// covered by the next one, as long as AckWait spans several intervals.
type heartbeat struct {
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

func startHeartbeat(msg jetstream.Msg, every time.Duration, log zerolog.Logger, also func()) *heartbeat {
	h := &heartbeat{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				if err := msg.InProgress(); err != nil {
					log.Debug().Err(err).Msg("heartbeat")
				}
				if also != nil {
					also()
				}
			}
		}
	}()
	return h
}

// Stop ends the heartbeat and waits for its goroutine. It is idempotent.
func (h *heartbeat) Stop() {
	h.stopOnce.Do(func() { close(h.stop) })
	<-h.done
}
