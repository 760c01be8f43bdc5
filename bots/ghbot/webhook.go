package ghbot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The headers of a delivery as kept in StreamDeliveries.
const (
	headerEvent    = "Github-Event"
	headerDelivery = "Github-Delivery"
	headerReceived = "Agentwatt-Received"
)

// handledEvents are the events the bot acts on; ping is GitHub's hello
// when the webhook is set up.
var handledEvents = map[string]bool{"pull_request": true, "issue_comment": true, "ping": true}

// deliveryRe is X-GitHub-Delivery: a GUID.
var deliveryRe = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// delivery is one accepted webhook delivery.
type delivery struct {
	Event, ID string
	Body      []byte
	Received  time.Time
}

// Handler is the webhook endpoint. It answers
//
//	202 the delivery is verified and kept; the bot acts on it shortly
//	200 ping
//	400 an event the bot does not handle, or a malformed delivery
//	401 a missing or wrong X-Hub-Signature-256
//	405 not POST; 409 a delivery id already received; 413 over the body limit
//	415 not application/json; 503 the delivery could not be kept (GitHub may redeliver)
//
// Nothing from a delivery is acted on before its signature is checked, and
// nothing is acted on inside the request: the delivery is kept in
// StreamDeliveries and Run handles it.
func (b *Bot) Handler() http.Handler {
	return http.HandlerFunc(b.serveWebhook)
}

func (b *Bot) serveWebhook(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		hookError(w, http.StatusMethodNotAllowed, "POST webhook deliveries here")
		return
	}
	event := r.Header.Get("X-GitHub-Event")
	id := r.Header.Get("X-GitHub-Delivery")
	switch {
	case !handledEvents[event]:
		hookError(w, http.StatusBadRequest, fmt.Sprintf("event %q is not handled: subscribe the App to pull_request and issue_comment only", clip(event, 64)))
		return
	case !deliveryRe.MatchString(id):
		hookError(w, http.StatusBadRequest, "X-GitHub-Delivery: want a GUID")
		return
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		hookError(w, http.StatusUnsupportedMediaType, "Content-Type: want application/json (set the webhook's content type to JSON)")
		return
	}
	sig := r.Header.Get("X-Hub-Signature-256")
	if sig == "" {
		hookError(w, http.StatusUnauthorized, "X-Hub-Signature-256 is missing")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			hookError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", b.cfg.MaxBody))
			return
		}
		hookError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	if !validSignature(b.cfg.WebhookSecret, body, sig) {
		b.log.Warn().Str("delivery", id).Str("event", event).Str("remote", r.RemoteAddr).Msg("webhook signature does not match")
		hookError(w, http.StatusUnauthorized, "X-Hub-Signature-256 does not match the body")
		return
	}
	if !json.Valid(body) {
		hookError(w, http.StatusBadRequest, "body is not JSON")
		return
	}
	if event == "ping" {
		hookJSON(w, http.StatusOK, map[string]string{"status": "pong"})
		return
	}
	ctx := r.Context()
	key := strings.ToLower(id)
	if _, err := b.deliveries.Create(ctx, key, []byte(event)); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			b.log.Warn().Str("delivery", id).Str("event", event).Msg("replayed delivery refused")
			hookError(w, http.StatusConflict, "delivery "+id+" was received before: a replay is refused")
			return
		}
		b.log.Error().Err(err).Str("delivery", id).Msg("remember delivery")
		hookError(w, http.StatusServiceUnavailable, "the delivery could not be recorded; redeliver it later")
		return
	}
	msg := nats.NewMsg(SubjectDeliveries)
	msg.Header.Set(headerEvent, event)
	msg.Header.Set(headerDelivery, key)
	msg.Header.Set(headerReceived, b.cfg.Now().UTC().Format(time.RFC3339Nano))
	msg.Header.Set(jetstream.MsgIDHeader, key)
	msg.Data = body
	if _, err := b.js.PublishMsg(ctx, msg); err != nil {
		// Forget the id, so that GitHub's redelivery is taken.
		_ = b.deliveries.Delete(ctx, key)
		b.log.Error().Err(err).Str("delivery", id).Msg("keep delivery")
		hookError(w, http.StatusServiceUnavailable, "the delivery could not be kept; redeliver it later")
		return
	}
	b.log.Debug().Str("delivery", id).Str("event", event).Int("bytes", len(body)).Msg("delivery accepted")
	hookJSON(w, http.StatusAccepted, map[string]string{"status": "accepted", "delivery": key})
}

// validSignature checks GitHub's X-Hub-Signature-256: "sha256=" and the
// hex HMAC-SHA256 of the body under secret. An empty secret never matches.
func validSignature(secret, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(secret) == 0 {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// Sign returns the X-Hub-Signature-256 value GitHub sends for body.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func hookError(w http.ResponseWriter, status int, msg string) {
	hookJSON(w, status, map[string]string{"error": msg})
}

func hookJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
