package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/verifyd"
)

func TestRunnerEnrolTokenCmd(t *testing.T) {
	f := newQueueFixture(t)
	ctx := context.Background()
	out, code := f.run(t, "runner", "enrol-token", "--pool", "h200x8", "--ttl", "30m", "--count", "2", "--by", "scaler")
	lines := strings.Fields(out)
	if code != 0 || len(lines) != 2 {
		t.Fatalf("enrol-token: exit %d, %q; want two tokens", code, out)
	}
	for _, tok := range lines {
		id, err := fleet.ParseToken(tok)
		if err != nil {
			t.Fatalf("printed %q: %v", tok, err)
		}
		rec, _, err := f.fleet.Token(ctx, id)
		if err != nil || rec.Pool != "h200x8" || rec.MintedBy != "scaler" || rec.ExpiresAt.Sub(rec.MintedAt) != 30*time.Minute {
			t.Errorf("record of %s: %+v, %v", id, rec, err)
		}
		raw, _ := json.Marshal(rec)
		if strings.Contains(string(raw), tok[strings.Index(tok, ".")+1:]) {
			t.Errorf("the record holds the token's secret: %s", raw)
		}
	}
	for _, args := range [][]string{
		{"runner", "enrol-token", "--ttl", "30m"},                     // no pool
		{"runner", "enrol-token", "--pool", "h200x8", "--ttl", "48h"}, // too long
		{"runner", "enrol-token", "--pool", "H200", "--ttl", "30m"},
	} {
		if out, code := f.run(t, args...); code == 0 {
			t.Errorf("%v: exit 0, %q", args, out)
		}
	}
}

func TestRunnerRevokeCmd(t *testing.T) {
	f := newQueueFixture(t)
	ctx := context.Background()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	if err := f.fleet.TrustKey(ctx, "gpu-node-7", pub, "alice", []string{"h200x8"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tokenFile := func(name, tok string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	maint, err := f.acc.AddMaintainer(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	vendor, err := f.acc.AddVendor(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	// A vendor's token, or none, revokes nothing.
	for _, args := range [][]string{
		{"runner", "revoke", "gpu-node-7", "--reason", "x", "--token-file", tokenFile("vendor", vendor)},
		{"runner", "revoke", "gpu-node-7", "--reason", "x"},
		{"runner", "revoke", "gpu-node-7", "--token-file", tokenFile("maint", maint)}, // no reason
	} {
		if _, code := f.run(t, args...); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
	}
	if k, _ := f.fleet.Key(ctx, "gpu-node-7"); k.Revoked() {
		t.Fatalf("revoked without a maintainer: %+v", k.Revocation)
	}
	cfg := blobtest.Start(t)
	out, code := f.run(t, "runner", "revoke", "gpu-node-7", "--reason", "instance terminated", "--token-file", tokenFile("maint", maint),
		"--s3-endpoint", cfg.Endpoint, "--s3-access-key", cfg.AccessKey, "--s3-secret-key", cfg.SecretKey, "--s3-bucket", cfg.Bucket)
	if code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: exit %d, %q", code, out)
	}
	// runners.json is published at once, with the revocation.
	store, err := blob.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	data, err := store.GetBytes(ctx, publish.RunnersKey, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := verifyd.ParseKeys(data)
	if r, ok := keys.Revoked["gpu-node-7"]; err != nil || !ok || r.By != "alice" || r.Reason != "instance terminated" {
		t.Errorf("published runners.json: %v, %s", err, data)
	}
	k, err := f.fleet.Key(ctx, "gpu-node-7")
	if err != nil || !k.Revoked() || k.Revocation.By != "alice" || k.Revocation.Reason != "instance terminated" {
		t.Errorf("after revoke: %+v, %v", k.Revocation, err)
	}
}

// A runner started with --enrol-token-file: the file is read and removed
// before anything else, the key is enrolled through the service, and the
// next start needs no token.
func TestRunnerEnrolAtStart(t *testing.T) {
	f := newQueueFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nc := f.q.JetStream().Conn()
	svc := enrolService(f.q, f.fleet, zerolog.Nop())
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(sctx) }()
	defer func() { stop(); <-done }()

	mint := func(pool string) string {
		m, err := f.fleet.MintTokens(ctx, fleet.MintRequest{Pool: pool, TTL: time.Minute, By: "scaler"})
		if err != nil {
			t.Fatal(err)
		}
		return m[0].Token
	}
	dir := t.TempDir()
	key, err := bundle.LoadOrCreateKey(filepath.Join(dir, "runner.key"))
	if err != nil {
		t.Fatal(err)
	}
	tokenPath := filepath.Join(dir, "enrol.token")
	start := func(pool string) error {
		ef := enrolFlags{tokenFile: tokenPath, instance: "i-0abc"}
		if err := ef.takeToken(); err != nil {
			return err
		}
		if _, err := os.Stat(tokenPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the token file is still there after takeToken: %v", err)
		}
		return enrolRunner(ctx, &ef, f.fleet, nc, "gpu-i-0abc", pool, key, zerolog.Nop())
	}

	// Attack: a token file others may read is removed and refused.
	if err := os.WriteFile(tokenPath, []byte(mint("h200x8")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := start("h200x8"); err == nil || !strings.Contains(err.Error(), "readable by group or others") {
		t.Errorf("a world-readable token file: %v", err)
	}
	if _, err := os.Stat(tokenPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused token file is still there: %v", err)
	}
	// Attack: a sim token on a hardware runner.
	if err := os.WriteFile(tokenPath, []byte(mint("sim")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := start("h200x8"); !errors.Is(err, fleet.ErrEnrolRefused) {
		t.Errorf("a sim token on an h200x8 runner: %v, want ErrEnrolRefused", err)
	}

	if err := os.WriteFile(tokenPath, []byte(mint("h200x8")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The server may still be starting its service: start retries.
	if err := start("h200x8"); err != nil {
		t.Fatalf("enrol at start: %v", err)
	}
	k, err := f.fleet.Key(ctx, "gpu-i-0abc")
	if err != nil || !k.PublicKey.Equal(key.Public().(ed25519.PublicKey)) || k.Enrolment == nil || k.Enrolment.Instance != "i-0abc" || k.Pools[0] != "h200x8" {
		t.Fatalf("enrolled: %+v, %v", k, err)
	}
	// Restarted: no token file any more, the key is enrolled: it starts.
	if err := start("h200x8"); err != nil {
		t.Errorf("restart of an enrolled runner: %v", err)
	}
	// Restarted on another pool: a token never widens a key's pools.
	if err := os.WriteFile(tokenPath, []byte(mint("b200x8")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := start("b200x8"); err == nil || !strings.Contains(err.Error(), "never widens") {
		t.Errorf("an enrolled key on another pool: %v", err)
	}
	// Revoked: the runner refuses to start, with or without a token file.
	if _, err := f.fleet.RevokeKey(ctx, "gpu-i-0abc", "alice", "instance terminated"); err != nil {
		t.Fatal(err)
	}
	if err := start("h200x8"); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("a revoked runner started with a token file: %v", err)
	}
	if err := enrolRunner(ctx, &enrolFlags{}, f.fleet, nc, "gpu-i-0abc", "h200x8", key, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("a revoked runner started: %v", err)
	}
}
