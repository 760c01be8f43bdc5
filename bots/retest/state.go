package retest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/agentwatt/agentwatt/internal/kvbucket"
)

// Bucket is the KV bucket of the watcher's state:
//
//	fw.<framework>      frameworkState: the last release handled and the ETag
//	pending.<hash>      Pending: a retest whose image is not in the registry yet
//	scheduled.<hash>    the last scheduled retest of a configuration
const Bucket = "agentwatt-retest"

// frameworkState is what the watcher remembers of a framework between
// polls and across restarts.
type frameworkState struct {
	Repo string `json:"repo"`
	ETag string `json:"etag,omitempty"`
	// Last is the newest release handled; nil before the first poll.
	Last *Release `json:"last,omitempty"`
}

// Pending is a retest waiting for its image: releases often come out before
// their images are pushed.
type Pending struct {
	Framework string    `json:"framework"`
	Version   string    `json:"version"`
	Config    string    `json:"config"` // vendor/name/model/system/framework, as published
	Of        string    `json:"of"`     // the published job the retest derives from
	Image     string    `json:"image"`  // the tag reference, not yet resolved
	Since     time.Time `json:"since"`
	Tries     int       `json:"tries"`
	NextTry   time.Time `json:"next_try"`
	LastError string    `json:"last_error,omitempty"`
}

func (p Pending) key() string { return "pending." + hashKey(p.Framework, p.Version, p.Of) }

type scheduledState struct {
	Job string    `json:"job"`
	At  time.Time `json:"at"`
}

func scheduledKey(config string) string { return "scheduled." + hashKey(config) }

func hashKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// state is the bucket.
type state struct{ kv jetstream.KeyValue }

func openState(ctx context.Context, js jetstream.JetStream, replicas int) (*state, error) {
	kv, err := kvbucket.Ensure(ctx, js, jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "agentwatt retest watcher: last release per framework, pending images",
		History: 1,
	}, replicas)
	if err != nil {
		return nil, err
	}
	return &state{kv: kv}, nil
}

// get reads key into v; found is false when it is absent.
func (s *state) get(ctx context.Context, key string, v any) (found bool, err error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return false, fmt.Errorf("%s in %s: %w", key, Bucket, err)
	}
	return true, nil
}

func (s *state) put(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

func (s *state) del(ctx context.Context, key string) error {
	if err := s.kv.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// pending lists the retests waiting for an image.
func (s *state) pending(ctx context.Context) ([]Pending, error) {
	keys, err := kvbucket.Keys(ctx, s.kv, "pending.*")
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, err
	}
	var out []Pending
	for _, k := range keys {
		var p Pending
		if ok, err := s.get(ctx, k, &p); err != nil {
			return nil, err
		} else if ok {
			out = append(out, p)
		}
	}
	return out, nil
}
