package blob

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Config says which S3 endpoint, credentials and bucket a Store uses.
type Config struct {
	// Endpoint is "host:port" (or "host"), or a URL "http://host:port" /
	// "https://host". A URL's scheme decides TLS; it must not contradict
	// Secure.
	Endpoint string
	// AccessKey and SecretKey are the static S3 credentials. Both are
	// required.
	AccessKey, SecretKey string
	// Bucket is the one bucket the Store reads and writes. Open creates it
	// when it is missing. Strict S3 naming: 3-63 characters of a-z, 0-9,
	// '.', '-'.
	Bucket string
	// Secure selects HTTPS for a bare "host:port" endpoint.
	Secure bool
	// Region is the bucket's region. Empty lets the client discover it
	// (one extra request per bucket on AWS); S3 clones usually answer
	// "us-east-1".
	Region string
}

// FieldError is one problem Validate found, named by the field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return "blob config: " + e.Field + ": " + e.Msg }

// Unwrap makes every FieldError match ErrInvalidConfig.
func (e *FieldError) Unwrap() error { return ErrInvalidConfig }

// Validate reports every problem in c, each a *FieldError, joined.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if _, _, err := c.hostAndTLS(); err != nil {
		add("Endpoint", "%v", err)
	}
	if c.AccessKey == "" {
		add("AccessKey", "required")
	}
	if c.SecretKey == "" {
		add("SecretKey", "required")
	}
	if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		add("Bucket", "%q: %v", c.Bucket, err)
	}
	if strings.ContainsAny(c.Region, " /\t\n") {
		add("Region", "%q is not a region name", c.Region)
	}
	return errors.Join(errs...)
}

// hostAndTLS turns Endpoint into the "host[:port]" minio-go wants and
// whether to use TLS.
func (c Config) hostAndTLS() (host string, secure bool, err error) {
	ep := strings.TrimSpace(c.Endpoint)
	if ep == "" {
		return "", false, errors.New("required")
	}
	if !strings.Contains(ep, "://") {
		if strings.ContainsAny(ep, "/?#@ ") {
			return "", false, fmt.Errorf("%q: want host:port or a URL", ep)
		}
		if err := checkHostPort(ep); err != nil {
			return "", false, err
		}
		return ep, c.Secure, nil
	}
	u, err := url.Parse(ep)
	if err != nil {
		return "", false, fmt.Errorf("%q: %v", ep, err)
	}
	switch u.Scheme {
	case "http":
		if c.Secure {
			return "", false, fmt.Errorf("%q: http:// contradicts Secure", ep)
		}
	case "https":
		secure = true
	default:
		return "", false, fmt.Errorf("%q: scheme must be http or https", ep)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false, fmt.Errorf("%q: only scheme://host[:port] is allowed (no user, path or query)", ep)
	}
	if err := checkHostPort(u.Host); err != nil {
		return "", false, err
	}
	return u.Host, secure, nil
}

func checkHostPort(hp string) error {
	host := hp
	if strings.Contains(hp, ":") {
		h, port, err := net.SplitHostPort(hp)
		if err != nil {
			return fmt.Errorf("%q: %v", hp, err)
		}
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return fmt.Errorf("%q: bad port", hp)
		}
		host = h
	}
	if host == "" {
		return fmt.Errorf("%q: missing host", hp)
	}
	return nil
}
