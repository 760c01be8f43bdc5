package verifyd

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier"
)

// Where verification keys come from. The daemon trusts the queue's
// enrolled keys, read afresh for every request. `agentwatt verify` takes,
// the first that answers (FindKeys): a keys file (a runners.json or one
// public key); the queue's enrolled keys when it is reachable, and then the
// queue as the job's record when it knows the bundle's job; the bucket's
// published runners.json.

// Keys are the runner keys a verification trusts, their scopes and, when
// the queue knows the bundle's job, where its record is read.
type Keys struct {
	Trusted map[string]ed25519.PublicKey
	Scopes  map[string]verifier.KeyScope
	// Revoked are the revoked keys among Trusted: their bundles are
	// trusted only if made before the revocation.
	Revoked map[string]verifier.Revocation
	Jobs    verifier.JobSource // nil: the bundle is not bound to a job record
}

// Options sets the keys of opts: Trusted, Scopes, Revoked and, when the
// queue knows the job, Jobs.
func (k *Keys) Options(opts verifier.Options) verifier.Options {
	opts.Trusted, opts.Scopes, opts.Revoked = k.Trusted, k.Scopes, k.Revoked
	if k.Jobs != nil {
		opts.Jobs = k.Jobs
	}
	return opts
}

// EnrolledKeys turns the queue's enrolled keys into what verifier.Options
// takes: each key by name, the scope of each key that has pools, and the
// revocation of each revoked key.
func EnrolledKeys(enrolled map[string]fleet.Key) Keys {
	k := Keys{Trusted: make(map[string]ed25519.PublicKey, len(enrolled)), Scopes: make(map[string]verifier.KeyScope, len(enrolled)),
		Revoked: map[string]verifier.Revocation{}}
	for name, rk := range enrolled {
		k.Trusted[name] = rk.PublicKey
		if len(rk.Pools) > 0 {
			k.Scopes[name] = verifier.KeyScope{Pools: slices.Clone(rk.Pools), Sim: rk.Sim}
		}
		if r := rk.Revocation; r != nil {
			k.Revoked[name] = verifier.Revocation{At: r.At, By: r.By, Reason: r.Reason}
		}
	}
	return k
}

// KeySources are the places FindKeys looks, in order; an empty one is
// skipped.
type KeySources struct {
	// File is a runners.json (keys and their pools) or one public key
	// (simulated results only).
	File string
	// NATS and NATSCreds name the queue whose enrolled keys to take.
	// NATSRequired makes an unreachable queue an error instead of a reason
	// to look further.
	NATS, NATSCreds string
	NATSRequired    bool
	// Published reads the runners.json of the bundle's bucket
	// (publish.RunnersFile).
	Published func(ctx context.Context) ([]byte, error)
	// Job is the bundle's job (untrusted, from its manifest): the queue is
	// returned as Keys.Jobs only when it knows the job.
	Job string
	Log zerolog.Logger
}

// FindKeys finds the enrolled runner keys and their scopes in src. The
// queue, when it answers, stays connected until ctx ends if it is returned
// as Keys.Jobs.
func FindKeys(ctx context.Context, src KeySources) (*Keys, error) {
	if src.File != "" {
		data, err := os.ReadFile(src.File)
		if err != nil {
			return nil, err
		}
		k, err := ParseKeys(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.File, err)
		}
		return k, nil
	}
	if src.NATS != "" {
		enrolled, q, err := queueKeys(ctx, src)
		switch {
		case err == nil:
			k := EnrolledKeys(enrolled)
			if q != nil {
				k.Jobs = Jobs{q}
			}
			return &k, nil
		case src.NATSRequired:
			return nil, fmt.Errorf("enrolled keys from %s: %w", src.NATS, err)
		default:
			src.Log.Info().Err(err).Str("nats", src.NATS).Msg("queue not reachable; enrolled keys from elsewhere")
		}
	}
	if src.Published != nil {
		data, err := src.Published(ctx)
		if err != nil {
			return nil, fmt.Errorf("enrolled keys: %w (pass --keys FILE or --nats URL)", err)
		}
		return ParseKeys(data)
	}
	return nil, fmt.Errorf("%w: pass --keys FILE (a runners.json or a public key) or --nats URL (the queue the runner was enrolled in)", verifier.ErrNoKeys)
}

// queueKeys reads the enrolled keys from the queue at src.NATS. The queue
// is kept open (and returned) only when it knows src.Job; the connection
// closes when ctx ends.
func queueKeys(ctx context.Context, src KeySources) (map[string]fleet.Key, *queue.Queue, error) {
	nc, err := queue.Connect(src.NATS, src.NATSCreds, src.Log)
	if err != nil {
		return nil, nil, err
	}
	keys, q, err := readQueueKeys(ctx, nc, src.Job, src.Log)
	if q != nil {
		context.AfterFunc(ctx, nc.Close)
	} else {
		nc.Close()
	}
	return keys, q, err
}

// readQueueKeys is queueKeys on an open connection; q is nil unless the
// queue knows job.
func readQueueKeys(ctx context.Context, nc *nats.Conn, job string, log zerolog.Logger) (map[string]fleet.Key, *queue.Queue, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// A read-only command must not create the queue's streams on a NATS
	// server that has none: look before binding.
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, nil, err
	}
	if _, err := js.KeyValue(ctx, queue.BucketJobs); errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil, fmt.Errorf("no agentwatt queue there (bucket %s not found)", queue.BucketJobs)
	} else if err != nil {
		return nil, nil, err
	}
	q, err := queue.Open(ctx, nc, queue.Config{}, log)
	if err != nil {
		return nil, nil, err
	}
	fl, err := fleet.Open(ctx, q.JetStream(), fleet.Config{Replicas: q.Config().Replicas}, log)
	if err != nil {
		return nil, nil, err
	}
	enrolled, err := fl.TrustedKeys(ctx)
	if err != nil {
		return nil, nil, err
	}
	if len(enrolled) == 0 {
		return nil, nil, fmt.Errorf("%w: the queue has no enrolled runner keys ('agentwatt runner trust' enrols one)", verifier.ErrNoKeys)
	}
	switch _, err := q.Get(ctx, job); {
	case err == nil:
		return enrolled, q, nil
	case errors.Is(err, queue.ErrJobNotFound), errors.Is(err, queue.ErrInvalid):
		log.Info().Str("job", job).Msg("the queue does not know this job: the bundle is not checked against a job record")
		return enrolled, nil, nil
	default:
		return nil, nil, err
	}
}
