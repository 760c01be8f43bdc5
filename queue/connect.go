package queue

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// Reconnect backoff for external servers: doubling from reconnectMin, capped
// at reconnectMax, with ±25% jitter so a fleet of runners does not reconnect
// in step after a server restart.
const (
	reconnectMin = 250 * time.Millisecond
	reconnectMax = 10 * time.Second
)

// Connect connects to external NATS servers. url may list several servers,
// comma-separated (a cluster); credsFile is a NATS credentials file or "".
// The connection reconnects forever with capped, jittered backoff and logs
// every disconnect and reconnect. The first connect fails fast so that a
// wrong URL is reported at once.
func Connect(url, credsFile string, log zerolog.Logger) (*nats.Conn, error) {
	if url == "" {
		return nil, invalidf("nats url is empty")
	}
	l := log.With().Str("component", "nats").Logger()
	opts := []nats.Option{
		nats.Name("agentwatt"),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				l.Warn().Err(err).Msg("nats disconnected")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			l.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("nats reconnected")
		}),
		nats.ClosedHandler(func(_ *nats.Conn) { l.Debug().Msg("nats connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			ev := l.Warn().Err(err)
			if sub != nil {
				ev = ev.Str("subject", sub.Subject)
			}
			ev.Msg("nats async error")
		}),
	}
	if credsFile != "" {
		opts = append(opts, nats.UserCredentials(credsFile))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", url, err)
	}
	l.Debug().Str("url", nc.ConnectedUrlRedacted()).Msg("nats connected")
	return nc, nil
}

func reconnectDelay(attempts int) time.Duration {
	d := reconnectMin
	for i := 1; i < attempts && d < reconnectMax; i++ {
		d *= 2
	}
	d = min(d, reconnectMax)
	return d*3/4 + rand.N(d/2+1)
}
