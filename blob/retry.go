package blob

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
)

// Retry is the Store's retry policy. minio-go's own retries are switched
// off (MaxRetries 1) so that this one policy, with its injectable sleep,
// governs every call.
type Retry struct {
	// Attempts is the total number of tries, at least 1.
	Attempts int
	// Base is the first backoff; each retry doubles it up to Max. The wait
	// is drawn uniformly from [d/2, d] (equal jitter), so that many
	// clients retrying at once spread out but never retry at once.
	Base, Max time.Duration
}

// DefaultRetry is used when Open is given no WithRetry: 6 tries over about
// 10-20 s.
var DefaultRetry = Retry{Attempts: 6, Base: 250 * time.Millisecond, Max: 8 * time.Second}

// SleepFunc waits d or until ctx ends, returning ctx's error then.
type SleepFunc func(ctx context.Context, d time.Duration) error

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff is the wait before retry number n (n = 1 for the first retry).
func (r Retry) backoff(n int) time.Duration {
	d := r.Base
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// retryable reports whether err is worth another try: network failures,
// throttling and server-side errors. Client errors (auth, not found, bad
// request), TLS verification failures and context ends are not.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) && (er.StatusCode != 0 || er.Code != "") {
		switch er.Code {
		case "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
			"Throttling", "ThrottlingException", "RequestLimitExceeded",
			"RequestThrottled", "XMinioServerNotInitialized":
			return true
		}
		switch er.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) {
		return false
	}
	var urlErr *url.Error
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.As(err, &urlErr), errors.As(err, &opErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

// do runs op until it succeeds, fails with a non-retryable error, or the
// policy's attempts are spent. what names the operation in logs.
func (s *Store) do(ctx context.Context, what, key string, op func(attempt int) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = op(attempt)
		if err == nil || !retryable(err) || attempt >= s.retry.Attempts || ctx.Err() != nil {
			return err
		}
		wait := s.retry.backoff(attempt)
		s.log.Warn().Err(err).Str("op", what).Str("key", key).
			Int("attempt", attempt).Dur("backoff", wait).Msg("blob retry")
		if serr := s.sleep(ctx, wait); serr != nil {
			return err
		}
	}
}
