package blobtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/blob/s3embed"
)

// init turns this process into the gateway child when the parent asked
// for it; otherwise it does nothing.
func init() {
	if os.Getenv(envChild) == "1" {
		os.Exit(serveChild())
	}
}

// serveChild runs a gateway in a fresh temporary directory until stdin
// reaches EOF (the test process ended) or a signal arrives, then removes
// the directory. It reports readiness, or the error, as one JSON line on
// stdout.
func serveChild() int {
	say := func(h hello) { json.NewEncoder(os.Stdout).Encode(h) }
	dir, err := os.MkdirTemp("", "agentwatt-blobtest-")
	if err != nil {
		say(hello{Error: err.Error()})
		return 1
	}
	defer os.RemoveAll(dir)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel).With().Str("component", "blobtest").Logger()
	srv, err := s3embed.Start(ctx, s3embed.Config{Dir: dir, Quiet: true}, log)
	if err != nil {
		say(hello{Error: err.Error()})
		return 1
	}
	access, secret := srv.Credentials()
	say(hello{Endpoint: srv.Endpoint(), AccessKey: access, SecretKey: secret, Region: s3embed.Region})

	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-ctx.Done():
	case <-srv.Done():
	}
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "blobtest gateway:", err)
		return 1
	}
	return 0
}
