package publish_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/agentwatt/agentwatt/bundle"
)

// chromiumPath finds Debian's chromium; absent, the test skips — except in
// CI, where .ci/run installs it and its absence is a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: CI must install it (apt-get install -y chromium)")
	}
	t.Skip("chromium not installed (apt-get install -y chromium); the browser test runs in CI")
	return ""
}

// scaled is a deep copy of v as job id with its figures scaled by f.
func scaled(t *testing.T, v *bundle.Verdict, id string, f float64) *bundle.Verdict {
	t.Helper()
	data, err := v.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c, err := bundle.DecodeVerdict(data)
	if err != nil {
		t.Fatal(err)
	}
	c.Job = id
	for i := range c.Results.Tiers {
		c.Results.Tiers[i].AgentsPerMW *= f
	}
	return c
}

// newBrowser starts a headless chromium for the test.
func newBrowser(t *testing.T, chrome string) context.Context {
	return newBrowserAt(t, chrome, 1280, 1600)
}

// newBrowserAt starts a headless chromium with a window of w×h pixels.
func newBrowserAt(t *testing.T, chrome string, w, h int) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(w, h),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(cancelB)
	return bctx
}

// saveArtifact writes a test artefact to $AGENTWATT_ARTIFACTS, or the
// test's temporary directory.
func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := os.Getenv("AGENTWATT_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", p, len(data))
}
