package bots

import (
	"errors"
	"net/http"
	"strings"

	"github.com/agentwatt/agentwatt/queue"
)

// authenticate returns whom the request's bearer token belongs to. It reads
// only the headers, and answers 401 itself when the token is missing or
// unknown.
func (in *Intake) authenticate(w http.ResponseWriter, r *http.Request) (queue.Principal, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentwatt"`)
		writeError(w, http.StatusUnauthorized, "missing bearer token (Authorization: Bearer <vendor or maintainer token>)")
		return queue.Principal{}, false
	}
	p, err := in.q.Authenticate(r.Context(), token)
	if err != nil {
		if errors.Is(err, queue.ErrUnauthorized) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="agentwatt", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unknown token")
			return queue.Principal{}, false
		}
		in.writeQueueError(w, err)
		return queue.Principal{}, false
	}
	return p, true
}

// mayRead reports whether p may see job j: its own vendor or a maintainer.
func mayRead(p queue.Principal, j *queue.Job) bool {
	return p.Role == queue.RoleMaintainer || (p.Role == queue.RoleVendor && j.Vendor == p.Name)
}
