package bundle

import (
	"fmt"
	"strconv"
	"strings"
)

// File names of a bundle, relative to Prefix(job, attempt).
const (
	ManifestFile    = "manifest.json"
	EnvelopeFile    = "manifest.dsse.json"
	RequestsFile    = "requests.jsonl.zst"
	PowerFile       = "power.jsonl.zst"
	ProbesFile      = "probes.json"
	AccuracyFile    = "accuracy.jsonl"
	EngineLogFile   = "engine.log.zst"
	EnvironmentFile = "environment.json"
	SummaryFile     = "summary.json"
	// EngineMetricsFile is optional: scrapes of the engine's /metrics at
	// each window's start and end (EngineMetricsLine).
	EngineMetricsFile = "engine-metrics.jsonl.zst"
	// VerdictFile is written beside the bundle by the verifier; it is not
	// part of the signed set.
	VerdictFile = "verdict.json"
)

// RunsPrefix is the top of every bundle's key in object storage.
const RunsPrefix = "runs/"

// RequiredFiles are the files a complete bundle (Manifest.Incomplete false)
// lists. A canceled or failed attempt may list fewer.
var RequiredFiles = []string{
	RequestsFile, PowerFile, ProbesFile, AccuracyFile, EngineLogFile, EnvironmentFile, SummaryFile,
}

// Prefix is the key prefix of one attempt's bundle: "runs/<job>/<attempt>/".
func Prefix(job string, attempt int) string {
	return RunsPrefix + job + "/" + strconv.Itoa(attempt) + "/"
}

// Key is the object key of one file of a bundle.
func Key(job string, attempt int, name string) string {
	return Prefix(job, attempt) + name
}

// ParseKey splits an object key made by Key into its parts. The file may be
// nested (a member's power file) only as ValidName allows.
func ParseKey(key string) (job string, attempt int, name string, err error) {
	rest, ok := strings.CutPrefix(key, RunsPrefix)
	if !ok {
		return "", 0, "", fmt.Errorf("key %q: want %s<job>/<attempt>/<file>", key, RunsPrefix)
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) == 3 && strings.Contains(parts[2], "/") && !ValidName(parts[2]) {
		return "", 0, "", fmt.Errorf("key %q: want %s<job>/<attempt>/<file>", key, RunsPrefix)
	}
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return "", 0, "", fmt.Errorf("key %q: want %s<job>/<attempt>/<file>", key, RunsPrefix)
	}
	attempt, err = strconv.Atoi(parts[1])
	if err != nil || attempt < 1 || strconv.Itoa(attempt) != parts[1] {
		return "", 0, "", fmt.Errorf("key %q: attempt %q is not a positive integer", key, parts[1])
	}
	return parts[0], attempt, parts[2], nil
}

// reserved names are never part of the manifest's file list: the manifest
// and its envelope sign the others, the verdict comes later.
func reserved(name string) bool {
	return name == ManifestFile || name == EnvelopeFile || name == VerdictFile
}

// ValidName reports whether name may be a file of a bundle's signed set: a
// plain file name of letters, digits, '.', '_' and '-', not starting with
// '.', at most 128 bytes, and not one of the reserved names; or a group
// member's power file, power/<member>.jsonl.zst (MemberPowerFile), the
// one nested name.
func ValidName(name string) bool {
	if _, ok := MemberOfPowerFile(name); ok {
		return true
	}
	if name == "" || len(name) > 128 || name[0] == '.' || reserved(name) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
