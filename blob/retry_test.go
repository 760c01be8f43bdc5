package blob

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"canceled", context.Canceled, false},
		{"deadline wrapped", fmt.Errorf("put: %w", context.DeadlineExceeded), false},
		{"503", minio.ErrorResponse{StatusCode: 503}, true},
		{"500 wrapped", fmt.Errorf("x: %w", minio.ErrorResponse{StatusCode: 500, Code: "InternalError"}), true},
		{"429", minio.ErrorResponse{StatusCode: 429}, true},
		{"slow down on 200-class code", minio.ErrorResponse{Code: "SlowDown"}, true},
		{"403", minio.ErrorResponse{StatusCode: 403, Code: "AccessDenied"}, false},
		{"404", minio.ErrorResponse{StatusCode: 404, Code: "NoSuchKey"}, false},
		{"bad digest", minio.ErrorResponse{StatusCode: 400, Code: "BadDigest"}, false},
		{"refused", &url.Error{Op: "Put", URL: "http://x", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, true},
		{"reset bare", syscall.ECONNRESET, true},
		{"unexpected eof", io.ErrUnexpectedEOF, true},
		{"unknown CA", &url.Error{Op: "Get", URL: "https://x", Err: x509.UnknownAuthorityError{}}, false},
		{"plain error", errors.New("boom"), false},
		{"short body", errShortBody, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryable(tt.err); got != tt.want {
				t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	r := Retry{Attempts: 10, Base: 100 * time.Millisecond, Max: time.Second}
	for n := 1; n <= 8; n++ {
		ceil := min(r.Base<<(n-1), r.Max)
		for range 200 {
			d := r.backoff(n)
			if d < ceil/2 || d > ceil {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, ceil/2, ceil)
			}
		}
	}
	if d := (Retry{Base: 0, Max: 0}).backoff(3); d != 0 {
		t.Errorf("zero policy backoff = %v, want 0", d)
	}
}
