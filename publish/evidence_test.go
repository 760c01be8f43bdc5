package publish_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
	"github.com/agentwatt/agentwatt/verifier/verifiertest/known"
)

// evidenceSite is a store holding the known-good bundle as job-pub
// (published) and as job-hidden (verified, never published), each with a
// verdict and an unlisted object beside the bundle, and a site server.
func evidenceSite(t *testing.T) (srv *httptest.Server, store *blob.Store, dir string) {
	t.Helper()
	ctx := context.Background()
	b := known.Good(t)
	v := verdictOf(t)
	store = blobtest.Store(t)
	for _, job := range []string{"job-pub", "job-hidden"} {
		vv := withJob(v, job)
		ents, err := os.ReadDir(b.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if err := store.PutFile(ctx, bundle.Key(job, vv.Attempt, e.Name()), filepath.Join(b.Dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
		vb, _ := vv.Marshal()
		for name, data := range map[string][]byte{bundle.VerdictFile: vb, "secret.txt": []byte("not listed")} {
			if err := store.PutBytes(ctx, bundle.Key(job, vv.Attempt, name), data, "application/octet-stream"); err != nil {
				t.Fatal(err)
			}
		}
		if job == "job-pub" {
			if _, err := publish.Publish(ctx, store, publish.PublishInput{Job: jobOf(vv, job, "sim-a"), Verdict: vv, Local: true,
				Approval: publish.Approval{By: "maint", At: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := store.PutBytes(ctx, "runs/x", []byte("top"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	publish.NewSiteHandler(store, zerolog.Nop()).Register(mux)
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, store, b.Dir
}

// The evidence route streams the files of a published bundle — those its
// manifest lists, the manifest, its envelope and the verdict — and nothing
// else: no unlisted object, no unpublished bundle, no key outside runs/
// however the path is spelt.
func TestSiteEvidenceRoute(t *testing.T) {
	srv, store, dir := evidenceSite(t)
	ctx := context.Background()
	get := func(p string) (int, []byte, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+p, nil)
		resp, err := http.DefaultTransport.RoundTrip(req) // no redirects followed
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body, resp.Header
	}
	for _, name := range []string{bundle.ProbesFile, bundle.RequestsFile, bundle.ManifestFile, bundle.EnvelopeFile} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		code, got, h := get("/runs/job-pub/1/" + name)
		if code != http.StatusOK || !bytes.Equal(got, want) {
			t.Errorf("GET %s: %d, %d bytes; want 200 and the bundle's %d bytes", name, code, len(got), len(want))
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: headers %v: want nosniff and a policy", name, h)
		}
	}
	wantVerdict, _ := store.GetBytes(ctx, bundle.Key("job-pub", 1, bundle.VerdictFile), 1<<20)
	if code, got, _ := get("/runs/job-pub/1/verdict.json"); code != http.StatusOK || !bytes.Equal(got, wantVerdict) {
		t.Errorf("GET verdict.json: %d %q", code, got)
	}
	for _, p := range []string{
		"/runs/job-pub/1/secret.txt",                             // beside the bundle, not listed
		"/runs/job-hidden/1/probes.json",                         // verified, not published
		"/runs/job-hidden/1/verdict.json",                        // the same
		"/runs/job-pub/2/probes.json",                            // another attempt
		"/runs/job-pub/01/probes.json",                           // attempt spelt otherwise
		"/runs/job-pub/1/..%2F..%2Fjob-hidden%2F1%2Fprobes.json", // encoded slashes
		"/runs/job-pub%2F1%2Fprobes.json%23/1/x",
		"/runs/..%2Fpublished/1/results.json",
		"/runs/job-pub/1/%2e%2e",
		"/runs/job-pub/1/.",
		"/runs/job-pub/1/probes.json%00",
		"/runs/job-pub/1/PROBES.JSON",
		"/runs/job-pub/-1/probes.json",
		"/runs/job-pub/1/probes.json/",
	} {
		code, body, _ := get(p)
		if code == http.StatusOK || bytes.Contains(body, []byte("not listed")) || bytes.Contains(body, []byte(`"probes"`)) {
			t.Errorf("GET %s: %d %q; want it refused", p, code, body)
		}
	}
	// Paths that the mux cleans are redirected to a clean path, which the
	// route then judges: never to a key outside the bundle.
	for _, p := range []string{"/runs/job-pub/1/../../job-hidden/1/probes.json", "/runs/job-pub/1/./secret.txt"} {
		code, _, h := get(p)
		if code == http.StatusOK {
			t.Errorf("GET %s: 200; want a redirect or a refusal", p)
		}
		if loc := h.Get("Location"); loc != "" {
			if code, _, _ := get(loc); code == http.StatusOK {
				t.Errorf("GET %s → %s: 200; want it refused", p, loc)
			}
		}
	}
}

// A runner group's bundle keeps each member's power samples in
// power/<member>.jsonl.zst: the route serves those listed files (one path
// segment deeper) and still nothing unlisted under power/.
func TestSiteEvidenceRouteServesMemberPower(t *testing.T) {
	ctx := context.Background()
	b, err := verifiertest.Build(ctx, filepath.Join(t.TempDir(), "group"), verifiertest.Options{Seed: 1, Group: verifiertest.GroupOptions{Members: 2}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.Verify(ctx, bundle.DirSource(b.Dir), known.Options(b))
	if err != nil || !v.Verified() {
		t.Fatalf("verify the group bundle: %v %s", err, verifiertest.FailedReasons(v))
	}
	const job = "job-grp"
	v = withJob(v, job)
	store := blobtest.Store(t)
	if err := b.Upload(ctx, store.PutFile, bundle.Key(job, v.Attempt, "")); err != nil {
		t.Fatal(err)
	}
	vb, _ := v.Marshal()
	for name, data := range map[string][]byte{bundle.VerdictFile: vb, "power/node-9.jsonl.zst": []byte("not listed")} {
		if err := store.PutBytes(ctx, bundle.Key(job, v.Attempt, name), data, "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := publish.Publish(ctx, store, publish.PublishInput{Job: jobOf(v, job, "sim"), Verdict: v, Local: true,
		Approval: publish.Approval{By: "maint", At: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	publish.NewSiteHandler(store, zerolog.Nop()).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	member := "power/" + verifiertest.MemberName(1) + ".jsonl.zst"
	want, err := os.ReadFile(filepath.Join(b.Dir, filepath.FromSlash(member)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{member, true},
		{"power/node-9.jsonl.zst", false}, // beside the bundle, not listed
		{"power/../probes.json", false},
		{"power/%2e%2e/probes.json", false},
		{"power/node-1.jsonl.zst/x", false},
	} {
		resp, err := http.DefaultTransport.RoundTrip(mustGet(t, srv.URL+"/runs/"+job+"/1/"+c.path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case c.ok && (resp.StatusCode != http.StatusOK || !bytes.Equal(body, want)):
			t.Errorf("GET %s: %d, %d bytes; want 200 and the member's %d bytes", c.path, resp.StatusCode, len(body), len(want))
		case c.ok && resp.Header.Get("Content-Disposition") != `attachment; filename="node-1.jsonl.zst"`:
			t.Errorf("GET %s: Content-Disposition %q", c.path, resp.Header.Get("Content-Disposition"))
		case !c.ok && resp.StatusCode == http.StatusOK:
			t.Errorf("GET %s: 200 %q; want it refused", c.path, body)
		}
	}
}

func mustGet(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
