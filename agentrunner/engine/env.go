package engine

import (
	"maps"
	"slices"
	"strings"
)

// markEnv names the environment entry that marks an engine's processes
// (record.Mark).
const markEnv = "AGENTWATT_ENGINE_MARK"

// defaultPath is the engine's PATH when the runner has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// processKeep are the variables of the runner's environment that a
// process-mode engine inherits: where programs are and the locale. Nothing
// else of the runner's environment (NATS URLs and credentials, S3 keys, the
// key's path) reaches the engine.
var processKeep = []string{"PATH", "LANG", "LC_ALL", "TZ"}

// processEnv is a process-mode engine's whole environment: the kept
// variables of the runner's, HOME and TMPDIR in the engine's own directory,
// the spec's env, the secrets and the mark. The spec's env may replace a
// kept variable; the mark is always the runner's.
func processEnv(runnerEnv []string, dir string, spec, secrets map[string]string, mark string) []string {
	vars := map[string]string{"PATH": defaultPath, "HOME": dir, "TMPDIR": dir}
	for _, kv := range runnerEnv {
		k, v, _ := strings.Cut(kv, "=")
		if slices.Contains(processKeep, k) {
			vars[k] = v
		}
	}
	maps.Copy(vars, spec)
	maps.Copy(vars, secrets)
	vars[markEnv] = mark
	env := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// runtimeKeep are the variables the container runtime's CLI needs to reach
// its daemon; the container itself gets only --env entries.
var runtimeKeep = []string{
	"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "XDG_RUNTIME_DIR",
	"DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY",
	"CONTAINER_HOST", "CONTAINER_CONNECTION", "CONTAINERS_CONF", "CONTAINERS_REGISTRIES_CONF",
	"CONTAINERS_STORAGE_CONF", "REGISTRY_AUTH_FILE",
}

// runtimeEnv filters the runner's environment for the runtime CLI and adds
// the secrets, which ContainerArgs names (--env NAME) without their values:
// the CLI copies them into the container from its own environment, so that
// no secret is on a command line.
func runtimeEnv(runnerEnv []string, secrets map[string]string) []string {
	var env []string
	for _, kv := range runnerEnv {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(runtimeKeep, k) {
			env = append(env, kv)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(secrets)) {
		env = append(env, k+"="+secrets[k])
	}
	return env
}
