package bots

import (
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/agentwatt/agentwatt/accounts"
	"github.com/agentwatt/agentwatt/queue"
)

// authenticate returns whom the request's bearer token belongs to. It reads
// only the headers, and answers 401 itself when the token is missing or
// unknown, and 429 when the client's address has failed too often.
func (in *Intake) authenticate(w http.ResponseWriter, r *http.Request) (accounts.Principal, bool) {
	addr := clientAddr(r)
	if in.limits.authBlocked(w, addr) {
		return accounts.Principal{}, false
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		in.limits.authFailed(addr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentwatt"`)
		writeError(w, http.StatusUnauthorized, "missing bearer token (Authorization: Bearer <vendor or maintainer token>)")
		return accounts.Principal{}, false
	}
	p, err := in.auth.Authenticate(r.Context(), token)
	if err != nil {
		if errors.Is(err, accounts.ErrUnauthorized) {
			in.limits.authFailed(addr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="agentwatt", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unknown token")
			return accounts.Principal{}, false
		}
		in.writeQueueError(w, err)
		return accounts.Principal{}, false
	}
	return p, true
}

// clientAddr is the address failed authentications are counted against: the
// peer's IP (a proxy in front of the server makes that the proxy's).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// mayRead reports whether p may see job j: its own vendor or a maintainer.
func mayRead(p accounts.Principal, j *queue.Job) bool {
	return p.Role == accounts.RoleMaintainer || (p.Role == accounts.RoleVendor && j.Vendor == p.Name)
}
