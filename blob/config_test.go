package blob

import (
	"errors"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Endpoint: "127.0.0.1:9000", AccessKey: "a", SecretKey: "s", Bucket: "runs"}
	tests := []struct {
		name       string
		mutate     func(*Config)
		wantFields []string // fields named by the errors; nil = valid
		wantHost   string
		wantTLS    bool
	}{
		{name: "host:port", mutate: func(*Config) {}, wantHost: "127.0.0.1:9000"},
		{name: "host only", mutate: func(c *Config) { c.Endpoint = "s3.example.com" }, wantHost: "s3.example.com"},
		{name: "secure flag", mutate: func(c *Config) { c.Secure = true }, wantHost: "127.0.0.1:9000", wantTLS: true},
		{name: "http url", mutate: func(c *Config) { c.Endpoint = "http://minio:9000" }, wantHost: "minio:9000"},
		{name: "https url trailing slash", mutate: func(c *Config) { c.Endpoint = "https://s3.example.com/" }, wantHost: "s3.example.com", wantTLS: true},
		{name: "ipv6", mutate: func(c *Config) { c.Endpoint = "[::1]:9000" }, wantHost: "[::1]:9000"},
		{name: "empty", mutate: func(c *Config) { *c = Config{} }, wantFields: []string{"Endpoint", "AccessKey", "SecretKey", "Bucket"}},
		{name: "http contradicts secure", mutate: func(c *Config) { c.Endpoint = "http://x:1"; c.Secure = true }, wantFields: []string{"Endpoint"}},
		{name: "ftp scheme", mutate: func(c *Config) { c.Endpoint = "ftp://x:1" }, wantFields: []string{"Endpoint"}},
		{name: "url with path", mutate: func(c *Config) { c.Endpoint = "http://x:1/bucket" }, wantFields: []string{"Endpoint"}},
		{name: "url with user", mutate: func(c *Config) { c.Endpoint = "http://u:p@x:1" }, wantFields: []string{"Endpoint"}},
		{name: "bare with path", mutate: func(c *Config) { c.Endpoint = "x:1/b" }, wantFields: []string{"Endpoint"}},
		{name: "bad port", mutate: func(c *Config) { c.Endpoint = "x:port" }, wantFields: []string{"Endpoint"}},
		{name: "missing host", mutate: func(c *Config) { c.Endpoint = ":9000" }, wantFields: []string{"Endpoint"}},
		{name: "bucket upper case", mutate: func(c *Config) { c.Bucket = "Runs" }, wantFields: []string{"Bucket"}},
		{name: "bucket too short", mutate: func(c *Config) { c.Bucket = "ab" }, wantFields: []string{"Bucket"}},
		{name: "bucket underscore", mutate: func(c *Config) { c.Bucket = "a_b_c" }, wantFields: []string{"Bucket"}},
		{name: "secret missing", mutate: func(c *Config) { c.SecretKey = "" }, wantFields: []string{"SecretKey"}},
		{name: "region with space", mutate: func(c *Config) { c.Region = "us east" }, wantFields: []string{"Region"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mutate(&c)
			err := c.Validate()
			var got []string
			for _, e := range unjoin(err) {
				var fe *FieldError
				if !errors.As(e, &fe) {
					t.Fatalf("error %v is not a *FieldError", e)
				}
				if !errors.Is(e, ErrInvalidConfig) {
					t.Errorf("error %v does not match ErrInvalidConfig", e)
				}
				got = append(got, fe.Field)
			}
			if !equal(got, tt.wantFields) {
				t.Fatalf("fields got %v, want %v (err %v)", got, tt.wantFields, err)
			}
			if err != nil {
				return
			}
			host, tls, err := c.hostAndTLS()
			if err != nil || host != tt.wantHost || tls != tt.wantTLS {
				t.Errorf("hostAndTLS got %q, %v, %v; want %q, %v", host, tls, err, tt.wantHost, tt.wantTLS)
			}
		})
	}
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
