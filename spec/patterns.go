package spec

import "regexp"

// The patterns a submission's strings must match. submission.schema.json
// carries the same expressions (schema_test.go compares them), so an editor
// and `agentwatt validate` agree. They stay within the syntax that RE2 and
// ECMA-262 share.
var (
	reDNSLabel    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	reContact     = regexp.MustCompile(`^([^@\s]+@[^@\s]+\.[^@\s]+|https://\S+)$`)
	reModelID     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$`)
	reNoSpace     = regexp.MustCompile(`^\S+$`)
	reLowerName   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	reImage       = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*(:[0-9]+)?(/[a-z0-9][a-z0-9._-]*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[0-9a-f]{64}$`)
	reImageTmpl   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*(:[0-9]+)?(/[a-z0-9][a-z0-9._-]*)*:[A-Za-z0-9_.{}-]*\{version\}[A-Za-z0-9_.{}-]*$`)
	reEnvName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	reHealthPath  = regexp.MustCompile(`^/\S*$`)
	reWorkload    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*(@sha256:[0-9a-f]{64})?$`)
	reDigest      = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	reDuration    = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`)
	reVersion     = regexp.MustCompile(`^v[0-9]+$`)
	reTierID      = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	reProfileName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	rePlaceholder = regexp.MustCompile(`\{[A-Za-z_][A-Za-z0-9_]*\}`)
)

// fieldPatterns maps a submission field (dotted path, "[]" for the elements
// of a list, "*" for the values of a map) to the pattern its value must
// match, for the schema agreement test.
var fieldPatterns = map[string]*regexp.Regexp{
	"metadata.vendor":      reDNSLabel,
	"metadata.name":        reDNSLabel,
	"metadata.contact":     reContact,
	"model.id":             reModelID,
	"model.revision":       reNoSpace,
	"model.precision":      reLowerName,
	"framework.name":       reLowerName,
	"framework.version":    reNoSpace,
	"engine.image":         reImage,
	"engine.sim_profile":   reLowerName,
	"engine.health_path":   reHealthPath,
	"engine.ready_timeout": reDuration,
	"optimizations.speculative_decoding.method": reLowerName,
	"benchmark.workload":                        reWorkload,
	"benchmark.rules":                           reVersion,
	"retest.image_template":                     reImageTmpl,
}
