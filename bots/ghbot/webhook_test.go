package ghbot

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// The bot refuses to start without a webhook secret: go-github's
// ValidatePayload checks nothing when the secret is empty and no signature
// is sent, so an empty secret would accept every forged delivery.
func TestNewRefusesNoSecret(t *testing.T) {
	_, pemKey := appKey(t)
	for _, secret := range []string{"", "short"} {
		_, err := New(context.Background(), Config{AppID: 1, PrivateKey: pemKey, WebhookSecret: []byte(secret), Repo: testRepo}, zerolog.Nop())
		if err == nil || !strings.Contains(err.Error(), "secret") {
			t.Errorf("secret %q: got %v, want a refusal naming the secret", secret, err)
		}
	}
	if validSignature(nil, []byte("{}"), Sign(nil, []byte("{}"))) {
		t.Error("a signature made with an empty secret was accepted")
	}
}

// Every delivery is refused unless signed with the secret, new, small
// enough and of an event the bot handles; nothing of a refused one is
// kept or acted on.
func TestWebhookAttacks(t *testing.T) {
	e := newBotEnv(t)
	body := payload(t, "pull_request/opened.payload.json", repoFields(map[string]any{
		"pull_request.head.sha": sha('a'), "pull_request.base.ref": "main", "pull_request.user.login": acmeDev,
	}))
	forged := Sign([]byte("not-the-secret-at-all"), body)
	tampered := append(bytes.Clone(body[:len(body)-1]), []byte(`,"x":1}`)...)
	huge := append([]byte(`{"pad":"`), bytes.Repeat([]byte("a"), 300<<10)...)
	huge = append(huge, []byte(`"}`)...)
	tests := []struct {
		name, event, sig string
		body             []byte
		want             int
	}{
		{"forged signature", "pull_request", forged, body, http.StatusUnauthorized},
		{"missing signature", "pull_request", "-", body, http.StatusUnauthorized},
		{"sha1 signature only", "pull_request", "sha1=0123456789abcdef0123456789abcdef01234567", body, http.StatusUnauthorized},
		{"signature of another body", "pull_request", Sign([]byte(testSecret), body), tampered, http.StatusUnauthorized},
		{"malformed signature", "pull_request", "sha256=zz", body, http.StatusUnauthorized},
		{"oversized body", "pull_request", "", huge, http.StatusRequestEntityTooLarge},
		{"unknown event", "check_suite", "", body, http.StatusBadRequest},
		{"no event", "", "", body, http.StatusBadRequest},
	}
	for _, tt := range tests {
		code, msg := e.post(tt.event, newDelivery(), tt.body, tt.sig)
		if code != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, code, msg, tt.want)
		}
	}
	if code, _ := e.post("pull_request", "not-a-guid", body, ""); code != http.StatusBadRequest {
		t.Errorf("malformed delivery id: %d, want 400", code)
	}
	req, _ := http.NewRequest(http.MethodGet, e.hook.URL, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v %v, want 405", resp, err)
	} else {
		resp.Body.Close()
	}

	// A replay of an accepted delivery is refused, however well signed.
	id := newDelivery()
	if code, msg := e.post("ping", id, []byte(`{"zen":"Keep it logically awesome."}`), ""); code != http.StatusOK {
		t.Fatalf("ping: %d %s", code, msg)
	}
	comment := payload(t, "issue_comment/created.payload.json", repoFields(map[string]any{"comment.body": "hello"}))
	if code, msg := e.post("issue_comment", id, comment, ""); code != http.StatusAccepted {
		t.Fatalf("first delivery: %d %s", code, msg)
	}
	if code, msg := e.post("issue_comment", id, comment, ""); code != http.StatusConflict {
		t.Errorf("replayed delivery: %d %s, want 409", code, msg)
	}
	if code, _ := e.post("issue_comment", strings.ToUpper(id), comment, ""); code != http.StatusConflict {
		t.Errorf("replayed delivery in upper case: %d, want 409", code)
	}
	e.idle()
	// Only the accepted comment (no command) was handled: nothing was asked
	// of GitHub but the token exchange, nothing was queued.
	if n := len(e.jobs()); n != 0 {
		t.Errorf("%d jobs queued by refused deliveries", n)
	}
	for _, r := range e.gh.Requests() {
		if r.Method != http.MethodGet && r.Method != http.MethodPost || strings.Contains(r.Path, "/check-runs") || strings.Contains(r.Path, "/comments") {
			t.Errorf("refused deliveries made the bot call GitHub: %s %s", r.Method, r.Path)
		}
	}
}
