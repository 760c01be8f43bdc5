package main

import (
	"testing"

	"github.com/agentwatt/agentwatt/publish"
)

// TestPublicStore: --public-url ends up in every static page's links, so
// only an http(s) address with a host is taken.
func TestPublicStore(t *testing.T) {
	var base publish.PublishStore // never touched: publicStore only wraps it
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"", true},
		{"https://results.example.org/bucket/", true},
		{"http://127.0.0.1:9000/agentwatt/", true},
		{"javascript:alert(1)", false},
		{"data:text/html,<script>alert(1)</script>", false},
		{"ftp://example.org/", false},
		{"https://", false},
		{"//example.org/bucket", false},
		{"https://exa mple.org/", false},
	} {
		ps, err := publicStore(base, tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("publicStore(%q): err %v, want ok %v", tc.url, err, tc.ok)
			continue
		}
		if tc.ok && tc.url != "" {
			if p, isPublic := ps.(publish.PublicStore); !isPublic || p.URLBase != tc.url {
				t.Errorf("publicStore(%q) = %#v, want a PublicStore with that base", tc.url, ps)
			}
		}
	}
}
