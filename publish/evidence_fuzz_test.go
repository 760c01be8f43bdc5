package publish

import (
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/bundle"
)

// FuzzEvidencePath: whatever the route's three path values are, what it
// accepts names one file directly under runs/<job>/<attempt>/ — the key
// parses back to the same parts, with no "." or ".." segment and nothing
// that could climb or reach another bundle.
func FuzzEvidencePath(f *testing.F) {
	for _, s := range [][3]string{
		{"job-pub", "1", "probes.json"}, {"0123456789abcdef0123456789abcdef", "2", "verdict.json"},
		{"..", "1", "x"}, {"job", "1", ".."}, {"job", "01", "probes.json"}, {"job/../x", "1", "y"},
		{"job", "1", "a/b"}, {"job", "1", "manifest.dsse.json"}, {"job", "-1", "x"}, {"job", "1", "x\x00"},
		{"j%2e%2e", "1", "%2e%2e"}, {"job", "1", ".hidden"}, {"-job", "1", "x"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, job, attemptS, file string) {
		attempt, ok := parseAttempt(attemptS)
		if !ok || !validJob(job) || !(bundle.ValidName(file) || file == bundle.ManifestFile || file == bundle.EnvelopeFile || file == bundle.VerdictFile) {
			return
		}
		key := bundle.Key(job, attempt, file)
		j, a, name, err := bundle.ParseKey(key)
		if err != nil || j != job || a != attempt || name != file {
			t.Fatalf("accepted %q %q %q: key %q parses to %q %d %q (%v)", job, attemptS, file, key, j, a, name, err)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00%") {
				t.Fatalf("accepted %q %q %q: key %q has segment %q", job, attemptS, file, key, seg)
			}
		}
	})
}
