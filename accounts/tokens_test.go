package accounts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestVendorTokens(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t, time.Minute)
	tok1, err := s.AddVendor(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := s.AddVendor(ctx, "acme") // a second token; the first stays valid
	if err != nil || tok2 == tok1 {
		t.Fatalf("second AddVendor: %q, %v", tok2, err)
	}
	other, err := s.AddVendor(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		token   string
		want    string
		wantErr error
	}{
		{"first token", tok1, "acme", nil},
		{"second token", tok2, "acme", nil},
		{"other vendor", other, "globex", nil},
		{"empty", "", "", ErrUnauthorized},
		{"unknown", "awv_" + strings.Repeat("A", 43), "", ErrUnauthorized},
		{"truncated", tok1[:len(tok1)-1], "", ErrUnauthorized},
		{"no prefix", strings.TrimPrefix(tok1, "awv_"), "", ErrUnauthorized},
		{"huge", "awv_" + strings.Repeat("x", 1<<16), "", ErrUnauthorized},
	}
	for _, tt := range tests {
		got, err := s.AuthenticateVendor(ctx, tt.token)
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: got %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}

	// Nothing in the bucket contains a token.
	w, err := s.kv.WatchAll(ctx, jetstream.IncludeHistory())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop() }()
	for e := range w.Updates() {
		if e == nil {
			break
		}
		for _, tok := range []string{tok1, tok2, other} {
			secret := strings.TrimPrefix(tok, "awv_")
			if strings.Contains(e.Key(), secret) || bytes.Contains(e.Value(), []byte(secret)) {
				t.Errorf("bucket entry %s holds a token in the clear", e.Key())
			}
		}
	}

	if err := s.RevokeToken(ctx, tok1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateVendor(ctx, tok1); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("revoked token: got %v, want ErrUnauthorized", err)
	}
	if v, err := s.AuthenticateVendor(ctx, tok2); err != nil || v != "acme" {
		t.Errorf("token 2 after revoking token 1: %q, %v", v, err)
	}
	vendors, err := s.ListVendors(ctx)
	if err != nil || len(vendors) != 2 || vendors[0].Name != "acme" || vendors[1].Name != "globex" {
		t.Errorf("ListVendors: %+v, %v", vendors, err)
	}
	for _, bad := range []string{"", "Acme", "acme corp", "-acme", strings.Repeat("a", 64)} {
		if _, err := s.AddVendor(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("AddVendor(%q): got %v, want ErrInvalid", bad, err)
		}
	}
}

func TestMaintainerTokens(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t, time.Minute)
	vendorTok, err := s.AddVendor(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	maintTok, err := s.AddMaintainer(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(maintTok, "awm_") {
		t.Errorf("maintainer token %q does not start with awm_", maintTok)
	}
	tests := []struct {
		name    string
		token   string
		want    Principal
		wantErr error
	}{
		{"vendor", vendorTok, Principal{Name: "acme", Role: RoleVendor}, nil},
		{"maintainer", maintTok, Principal{Name: "alice", Role: RoleMaintainer}, nil},
		// The same secret under the other prefix names no record.
		{"vendor secret as maintainer", "awm_" + strings.TrimPrefix(vendorTok, "awv_"), Principal{}, ErrUnauthorized},
		{"maintainer secret as vendor", "awv_" + strings.TrimPrefix(maintTok, "awm_"), Principal{}, ErrUnauthorized},
		{"huge", "awm_" + strings.Repeat("x", 1<<16), Principal{}, ErrUnauthorized},
	}
	for _, tt := range tests {
		got, err := s.Authenticate(ctx, tt.token)
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: got %+v, %v; want %+v, %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
	// A maintainer's token is not a vendor's.
	if v, err := s.AuthenticateVendor(ctx, maintTok); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("AuthenticateVendor(maintainer token) = %q, %v; want ErrUnauthorized", v, err)
	}
	ms, err := s.ListMaintainers(ctx)
	if err != nil || len(ms) != 1 || ms[0].Name != "alice" {
		t.Errorf("ListMaintainers: %+v, %v", ms, err)
	}
	vs, err := s.ListVendors(ctx)
	if err != nil || len(vs) != 1 || vs[0].Name != "acme" {
		t.Errorf("ListVendors lists maintainers too: %+v, %v", vs, err)
	}
	if err := s.RevokeToken(ctx, maintTok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, maintTok); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("revoked maintainer token: %v, want ErrUnauthorized", err)
	}
	if _, err := s.AddMaintainer(ctx, "Alice Smith"); !errors.Is(err, ErrInvalid) {
		t.Errorf("AddMaintainer(bad name): %v, want ErrInvalid", err)
	}
}

// A token issued before vendors moved out of package queue still works: the
// bucket, its keys and the record bytes are the ones the queue wrote.
func TestTokenRecordsFromBeforeTheSplit(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t, time.Minute)
	if s.kv.Bucket() != "agentwatt-vendors" {
		t.Fatalf("bucket %s, want agentwatt-vendors", s.kv.Bucket())
	}
	const token = "awv_cXNwbGl0LWNvbXBhdC10b2tlbi0zMi1ieXRlcy1sb25n"
	sum := sha256.Sum256([]byte(token))
	for key, rec := range map[string]string{
		"vendor.acme":                         `{"name":"acme","created_at":"2026-11-30T09:00:00Z"}`,
		"token." + hex.EncodeToString(sum[:]): `{"vendor":"acme","created_at":"2026-11-30T09:00:00Z"}`,
	} {
		if _, err := s.kv.Put(ctx, key, []byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := s.Authenticate(ctx, token); err != nil || p != (Principal{Name: "acme", Role: RoleVendor}) {
		t.Errorf("old token: %+v, %v; want vendor acme", p, err)
	}
	if vs, err := s.ListVendors(ctx); err != nil || len(vs) != 1 || vs[0].Name != "acme" {
		t.Errorf("ListVendors: %+v, %v", vs, err)
	}
	// And a token issued now is stored in the same form.
	tok, err := s.AddVendor(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	sum = sha256.Sum256([]byte(tok))
	e, err := s.kv.Get(ctx, "token."+hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(e.Value(), &rec); err != nil || len(rec) != 2 || rec["vendor"] != "globex" || rec["created_at"] == nil {
		t.Errorf("new token record %s: want vendor and created_at only", e.Value())
	}
}
