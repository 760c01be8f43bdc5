package blob

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"simple", "manifest.json", true},
		{"nested", "runs/job-1/2/manifest.json", true},
		{"unicode", "workloads/ünïcode/✓", true},
		{"dots inside", "a/.hidden/b..c", true},
		{"max length", strings.Repeat("k", 1024), true},
		{"empty", "", false},
		{"leading slash", "/a", false},
		{"trailing slash", "a/", false},
		{"double slash", "a//b", false},
		{"dot segment", "a/./b", false},
		{"dotdot segment", "a/../b", false},
		{"dotdot alone", "..", false},
		{"too long", strings.Repeat("k", 1025), false},
		{"not utf8", "a\xffb", false},
		{"newline", "a\nb", false},
		{"nul", "a\x00b", false},
		{"del", "a\x7fb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckKey(tt.key)
			if got := err == nil; got != tt.ok {
				t.Fatalf("CheckKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidKey) {
				t.Errorf("error %v does not match ErrInvalidKey", err)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in         string
		bucket     string
		key        string
		wantErr    bool
		roundTrips bool
	}{
		{in: "s3://runs/a/b.json", bucket: "runs", key: "a/b.json", roundTrips: true},
		{in: "s3://runs/prefix/", bucket: "runs", key: "prefix/", roundTrips: true},
		{in: "s3://runs/", bucket: "runs", key: "", roundTrips: true},
		{in: "s3://runs", bucket: "runs", key: ""},
		{in: "s3://my.bucket-1/k", bucket: "my.bucket-1", key: "k", roundTrips: true},
		{in: "s3://runs/a%20b", bucket: "runs", key: "a%20b", roundTrips: true},
		{in: "", wantErr: true},
		{in: "runs/a", wantErr: true},
		{in: "S3://runs/a", wantErr: true},
		{in: "http://runs/a", wantErr: true},
		{in: "s3://", wantErr: true},
		{in: "s3:///key", wantErr: true},
		{in: "s3://Runs/a", wantErr: true},
		{in: "s3://ru/a", wantErr: true},
		{in: "s3://runs//a", wantErr: true},
		{in: "s3://runs/a/../b", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			bucket, key, err := ParseURL(tt.in)
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrInvalidURL) {
					t.Fatalf("ParseURL(%q) = %q, %q, %v; want ErrInvalidURL", tt.in, bucket, key, err)
				}
				return
			}
			if err != nil || bucket != tt.bucket || key != tt.key {
				t.Fatalf("ParseURL(%q) = %q, %q, %v; want %q, %q", tt.in, bucket, key, err, tt.bucket, tt.key)
			}
			if got := FormatURL(bucket, key); tt.roundTrips && got != tt.in {
				t.Errorf("FormatURL = %q, want %q", got, tt.in)
			}
		})
	}
}

// FuzzParseURL checks that ParseURL never panics, that what it accepts
// formats back to an equivalent URL, and that accepted keys pass the key
// rules. The seeds run in the normal test suite.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"s3://runs/a/b.json", "s3://runs/", "s3://runs", "s3://x/y", "s3://",
		"s3://runs//a", "s3://runs/a/../b", "s3://a.b-c/\xff", "s3://runs/a\nb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bucket, key, err := ParseURL(s)
		if err != nil {
			return
		}
		b2, k2, err := ParseURL(FormatURL(bucket, key))
		if err != nil || b2 != bucket || k2 != key {
			t.Fatalf("ParseURL(FormatURL(%q, %q)) = %q, %q, %v", bucket, key, b2, k2, err)
		}
		if key != "" && strings.TrimSuffix(key, "/") != "" {
			if err := CheckKey(strings.TrimSuffix(key, "/")); err != nil {
				t.Fatalf("accepted key %q fails CheckKey: %v", key, err)
			}
		}
	})
}
