package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

// Enrolment without a human: 'runner enrol-token' mints single-use tokens,
// the runner presents one with --enrol-token-file (enrolRunner), and
// 'server' and 'local' answer on the enrolment service (enrolService).

// enrolFlags are the runner daemon's enrolment flags.
type enrolFlags struct {
	tokenFile, instance string
	token               string // read from tokenFile by takeToken
}

// takeToken reads and removes the token file, first thing at start, so
// that no engine (not even an orphan of a previous run) meets it on disk.
func (f *enrolFlags) takeToken() error {
	if f.tokenFile == "" {
		return nil
	}
	var err error
	if f.token, err = takeTokenFile(f.tokenFile); err != nil {
		return fmt.Errorf("--enrol-token-file: %w", err)
	}
	return nil
}

func addEnrolFlags(fs *pflag.FlagSet, f *enrolFlags) {
	fs.StringVar(&f.tokenFile, "enrol-token-file", "", "file holding an enrolment token ('agentwatt runner enrol-token'): read and removed at start, before any engine; the key (created if missing) is enrolled for the runner's pool under --id, unless it already is")
}

// enrolRunner enrols the runner's key with the token takeToken read, if
// --enrol-token-file is set. A key already enrolled under id for pool
// needs no token; a revoked key is refused either way.
func enrolRunner(ctx context.Context, f *enrolFlags, fl *fleet.Fleet, nc *nats.Conn, id, pool string, key ed25519.PrivateKey, log zerolog.Logger) error {
	pub := key.Public().(ed25519.PublicKey)
	if f.tokenFile == "" {
		// No enrolment asked for; but a runner whose key is revoked would
		// only take jobs whose bundles the verifier rejects.
		if k, err := fl.Key(ctx, id); err == nil && k.Revoked() && k.PublicKey.Equal(pub) {
			return fmt.Errorf("runner key %s was revoked at %s by %s (%s): start with a new --id and key", id, k.Revocation.At.Format(time.RFC3339), k.Revocation.By, k.Revocation.Reason)
		}
		return nil
	}
	token := f.token
	f.token = ""
	switch k, err := fl.Key(ctx, id); {
	case err == nil && k.Revoked():
		return fmt.Errorf("runner key %s was revoked at %s by %s (%s): start with a new --id and key", id, k.Revocation.At.Format(time.RFC3339), k.Revocation.By, k.Revocation.Reason)
	case err == nil && !k.PublicKey.Equal(pub):
		return fmt.Errorf("runner key %s: another key (%s) is enrolled under this --id: %w", id, k.Fingerprint, fleet.ErrKeyConflict)
	case err == nil && (len(k.Pools) == 0 && spec.SimPool(pool) || slices.Contains(k.Pools, pool)):
		log.Info().Str("id", id).Str("pool", pool).Str("key_id", k.Fingerprint).Bool("token_unused", token != "").Msg("runner key already enrolled; no enrolment needed")
		return nil
	case err == nil:
		return fmt.Errorf("runner key %s is enrolled for pools %v, not %s: an enrolment token never widens a key's pools ('agentwatt runner trust' does)", id, k.Pools, pool)
	case !errors.Is(err, fleet.ErrKeyNotFound):
		return err
	}
	if token == "" {
		return fmt.Errorf("--enrol-token-file %s: no token there, and runner key %s is not enrolled", f.tokenFile, id)
	}
	req, err := fleet.NewEnrolRequest(token, id, f.instance, pool, key)
	if err != nil {
		return fmt.Errorf("--enrol-token-file %s: %w", f.tokenFile, err)
	}
	// A server that is starting has no enrolment service yet: retry what
	// may pass later (no responder, a timeout), never a refusal.
	var k fleet.Key
	for try, wait := 1, time.Second; ; try, wait = try+1, min(2*wait, 16*time.Second) {
		k, err = fleet.RequestEnrol(ctx, nc, req)
		if err == nil || try == 6 || errors.Is(err, fleet.ErrEnrolRefused) || errors.Is(err, fleet.ErrInvalid) || errors.Is(err, fleet.ErrKeyConflict) {
			break
		}
		log.Info().Err(err).Dur("retry_in", wait).Msg("enrolment not answered; retrying")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	if err != nil {
		return err
	}
	log.Info().Str("id", id).Str("pool", pool).Str("key_id", k.Fingerprint).Str("token", k.Enrolment.TokenID).Str("instance", f.instance).Msg("runner key enrolled")
	return nil
}

// takeTokenFile reads the token in path and removes the file; a missing
// file is no token. A file that group or others may read, or that another
// user owns, is removed and refused: its token may be known.
func takeTokenFile(path string) (string, error) {
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer fh.Close()
	if err := os.Remove(path); err != nil {
		return "", fmt.Errorf("remove %s: %w", path, err)
	}
	st, err := fh.Stat()
	if err != nil {
		return "", err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s was readable by group or others (mode %v); it is removed, mint a new token and write it with mode 0600", path, st.Mode().Perm())
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return "", fmt.Errorf("%s was owned by uid %d, not by the runner's user (uid %d); it is removed, mint a new token and write it as the runner's user", path, sys.Uid, os.Geteuid())
	}
	data, err := io.ReadAll(io.LimitReader(fh, 1<<10))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// enrolService is the enrolment service on q's connection, for 'server'
// and 'local'.
func enrolService(q *queue.Queue, fl *fleet.Fleet, log zerolog.Logger) service {
	return fleet.NewEnrolService(fl, q.JetStream().Conn(), log)
}

func newRunnerEnrolTokenCmd(a *app) *cobra.Command {
	var (
		nf  natsFlags
		req fleet.MintRequest
	)
	cmd := &cobra.Command{
		Use:   "enrol-token",
		Short: "Mint single-use tokens that enrol a new runner's key for one pool (operators, the scaler)",
		Long: `enrol-token mints --count single-use enrolment tokens for --pool, valid for
--ttl (at most 24h), and prints each once: the queue keeps only its sha256. A
runner started with 'agentwatt runner --enrol-token-file FILE' (FILE holding
one token, mode 0600) creates its key if it has none and presents the token
with the key, its --id and --instance, signed by the key, to the enrolment
service that 'agentwatt server' runs. The key is enrolled under --id for the
token's pool alone (a sim token never enrols a hardware key); the token is
then used up. --instance binds the token to one instance id.

It talks to NATS with the operator's credentials (--nats-creds); the runner
needs none of them to enrol.`,
		Example: `  agentwatt runner enrol-token --pool h200x8 --ttl 30m
  agentwatt runner enrol-token --pool h200x8 --ttl 30m --instance i-0abc123 > /run/agentwatt/enrol.token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.Pool == "" {
				return fmt.Errorf("--pool is required: the pool the token enrols a key for")
			}
			ctx := cmd.Context()
			q, closeQ, err := connectQueue(ctx, a, &nf)
			if err != nil {
				return err
			}
			defer closeQ()
			fl, err := openFleet(ctx, q, a.log)
			if err != nil {
				return err
			}
			minted, err := fl.MintTokens(ctx, req)
			if err != nil {
				return err
			}
			if a.json() {
				return printQueueJSON(a.out, minted)
			}
			for _, m := range minted {
				fmt.Fprintln(a.out, m.Token)
			}
			return nil
		},
	}
	addNATSFlags(cmd.Flags(), &nf)
	cmd.Flags().StringVar(&req.Pool, "pool", "", "the pool the token enrols a key for (required; sim for a sim runner)")
	cmd.Flags().DurationVar(&req.TTL, "ttl", 30*time.Minute, "how long the token may wait to be used (at most 24h)")
	cmd.Flags().StringVar(&req.Instance, "instance", "", "only a runner presenting this instance id may use the token")
	cmd.Flags().IntVar(&req.Count, "count", 1, "tokens to mint, one per line")
	cmd.Flags().StringVar(&req.By, "by", defaultActor(), "who mints them, recorded with each token and the keys it enrols")
	return cmd
}
