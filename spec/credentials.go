package spec

import (
	"regexp"
	"slices"
	"strings"
)

// A submission is published with its job: whatever it holds, every vendor's
// job listing, every bundle and every log may show. A credential therefore
// never belongs in it; engine.secrets names the variables the runner fills
// from its own secret store. These checks catch the credentials written in
// by mistake: a value under a credential's name, or a value shaped like a
// known kind of token anywhere in the engine's env or args.

// credentialWords are the name components (split at '_') that mark a
// variable as a credential. Components, not substrings: TOKENIZERS_PARALLELISM
// and MAX_NUM_BATCHED_TOKENS are settings, HF_TOKEN and AWS_SECRET_ACCESS_KEY
// are not.
var credentialWords = []string{
	"TOKEN", "SECRET", "SECRETS", "KEY", "APIKEY", "PASSWORD", "PASSWD", "PASSPHRASE",
	"CREDENTIAL", "CREDENTIALS", "HFTOKEN",
}

// credentialName reports whether an environment variable's name says that it
// holds a credential.
func credentialName(name string) bool {
	for _, w := range strings.Split(strings.ToUpper(name), "_") {
		if slices.Contains(credentialWords, w) {
			return true
		}
	}
	return false
}

// tokenShapes are the forms of well-known credentials, each after a
// non-alphanumeric character or at the start.
var tokenShapes = []struct {
	re   *regexp.Regexp
	what string
}{
	{regexp.MustCompile(`(^|[^A-Za-z0-9])hf_[A-Za-z0-9]{20,}`), "a Hugging Face token (hf_…)"},
	{regexp.MustCompile(`(^|[^A-Za-z0-9])(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})`), "a GitHub token"},
	{regexp.MustCompile(`(^|[^A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}`), "an API secret key (sk-…)"},
	{regexp.MustCompile(`(^|[^A-Za-z0-9])(AKIA|ASIA)[0-9A-Z]{16}([^A-Za-z0-9]|$)`), "an AWS access key id"},
	{regexp.MustCompile(`(^|[^A-Za-z0-9])glpat-[A-Za-z0-9_-]{20,}`), "a GitLab token"},
	{regexp.MustCompile(`(^|[^A-Za-z0-9])xox[abprs]-[A-Za-z0-9-]{10,}`), "a Slack token"},
	{regexp.MustCompile(`(^|[^A-Za-z0-9])nvapi-[A-Za-z0-9_-]{20,}`), "an NVIDIA API key (nvapi-…)"},
	{regexp.MustCompile(`(^|[^A-Za-z0-9])AIza[0-9A-Za-z_-]{35}`), "a Google API key"},
	{regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`), "a private key"},
}

// credentialShape names the kind of credential v looks like, or "".
func credentialShape(v string) string {
	for _, s := range tokenShapes {
		if s.re.MatchString(v) {
			return s.what
		}
	}
	return ""
}

// runtimeVar reports variables that change how a program on the runner
// itself loads or runs (the dynamic loader's, the Go runtime's): the
// simulated engine is the runner's own binary, and they are not the
// submission's to set.
func runtimeVar(name string) bool {
	switch strings.ToUpper(name) {
	case "GODEBUG", "GOGC", "GOMAXPROCS", "GOMEMLIMIT", "GOTRACEBACK", "GOCOVERDIR", "GOENV":
		return true
	}
	return strings.HasPrefix(strings.ToUpper(name), "LD_")
}

// reservedSecret reports names the runner sets itself (the engine's home,
// path and mark) or that the container runtime's CLI reads from its own
// environment, where the runner puts the secrets of a container engine.
func reservedSecret(name string) bool {
	n := strings.ToUpper(name)
	switch n {
	case "PATH", "HOME", "TMPDIR", "USER", "LOGNAME", "LANG", "LC_ALL", "XDG_RUNTIME_DIR", "REGISTRY_AUTH_FILE":
		return true
	}
	for _, p := range []string{"AGENTWATT_", "DOCKER_", "CONTAINER_", "CONTAINERS_", "LD_"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}
