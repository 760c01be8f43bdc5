package queue

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// EmbeddedConfig configures the in-process NATS server of `agentwatt local`.
type EmbeddedConfig struct {
	// Dir holds the JetStream store (Dir/jetstream). Restarting on the same
	// Dir keeps every stream, KV bucket and job.
	Dir string
	// Listen is the client listen address. "127.0.0.1:0" listens on a free
	// loopback port; "" listens nowhere (in-process clients only).
	Listen string
	// ServerName names the server; "agentwatt" when empty.
	ServerName string
}

// embeddedMaxPayload lets a job record carry a canonical spec of up to the
// intake's 1 MiB limit, with room for JSON escaping and the history.
const embeddedMaxPayload = 8 << 20

// Embedded is a NATS server with JetStream running in this process.
type Embedded struct {
	srv       *server.Server
	listening bool
	log       zerolog.Logger
}

// StartEmbedded starts a JetStream-enabled NATS server in this process and
// waits until it accepts connections.
func StartEmbedded(cfg EmbeddedConfig, log zerolog.Logger) (*Embedded, error) {
	if cfg.Dir == "" {
		return nil, invalidf("embedded nats: Dir is empty")
	}
	name := cfg.ServerName
	if name == "" {
		name = "agentwatt"
	}
	opts := &server.Options{
		ServerName: name,
		JetStream:  true,
		StoreDir:   filepath.Clean(cfg.Dir),
		MaxPayload: embeddedMaxPayload,
		NoSigs:     true,
	}
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitListen(cfg.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	l := log.With().Str("component", "nats-server").Logger()
	srv.SetLoggerV2(serverLogger{l}, l.GetLevel() <= zerolog.TraceLevel, false, false)
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready after 30s")
	}
	e := &Embedded{srv: srv, listening: !opts.DontListen, log: l}
	l.Debug().Str("dir", opts.StoreDir).Str("url", e.ClientURL()).Msg("nats server started")
	return e, nil
}

func splitListen(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, invalidf("listen %q: %v", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, invalidf("listen %q: bad port", addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return host, port, nil
}

// ClientURL is the nats:// URL clients connect to, or "" when the server
// listens nowhere.
func (e *Embedded) ClientURL() string {
	if !e.listening {
		return ""
	}
	return e.srv.ClientURL()
}

// Connect opens a client connection: in-process when the server listens
// nowhere, over TCP otherwise. A connection made in-process cannot reconnect
// to a restarted server; use TCP where that matters.
func (e *Embedded) Connect(opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.Name("agentwatt-embedded")}, opts...)
	if url := e.ClientURL(); url != "" {
		return nats.Connect(url, opts...)
	}
	return nats.Connect("", append(opts, nats.InProcessServer(e.srv))...)
}

// Server exposes the running server (tests use it to find stream leaders).
func (e *Embedded) Server() *server.Server { return e.srv }

// Shutdown stops the server and waits until it has stopped. The store stays
// on disk.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.log.Debug().Msg("nats server stopped")
}

// serverLogger routes nats-server's log through zerolog. Fatal becomes error:
// the server decides what to do after a fatal condition, not our logger.
type serverLogger struct{ log zerolog.Logger }

func (l serverLogger) Noticef(format string, v ...any) { l.log.Debug().Msgf(format, v...) }
func (l serverLogger) Warnf(format string, v ...any)   { l.log.Warn().Msgf(format, v...) }
func (l serverLogger) Fatalf(format string, v ...any)  { l.log.Error().Msgf(format, v...) }
func (l serverLogger) Errorf(format string, v ...any)  { l.log.Error().Msgf(format, v...) }
func (l serverLogger) Debugf(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }
func (l serverLogger) Tracef(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }
