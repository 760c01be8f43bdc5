package engine

import (
	"maps"
	"slices"
	"strings"
)

// markEnv names the environment entry that marks an engine's processes
// (record.Mark).
const markEnv = "AGENTWATT_ENGINE_MARK"

// processEnv is a process-mode engine's whole environment: the runner's PATH
// (to find the program and its helpers), the spec's env, and the mark.
// Nothing else of the runner's environment (NATS URLs, S3 keys, the key
// path) reaches the engine.
func processEnv(runnerEnv []string, spec map[string]string, mark string) []string {
	var env []string
	if _, ok := spec["PATH"]; !ok {
		for _, kv := range runnerEnv {
			if strings.HasPrefix(kv, "PATH=") {
				env = append(env, kv)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(spec)) {
		env = append(env, k+"="+spec[k])
	}
	return append(env, markEnv+"="+mark)
}

// runtimeKeep are the variables the container runtime's CLI needs to reach
// its daemon; the container itself gets only --env entries.
var runtimeKeep = []string{
	"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "XDG_RUNTIME_DIR",
	"DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY",
	"CONTAINER_HOST", "CONTAINER_CONNECTION", "CONTAINERS_CONF", "CONTAINERS_REGISTRIES_CONF",
	"CONTAINERS_STORAGE_CONF", "REGISTRY_AUTH_FILE",
}

// runtimeEnv filters the runner's environment for the runtime CLI.
func runtimeEnv(runnerEnv []string) []string {
	var env []string
	for _, kv := range runnerEnv {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(runtimeKeep, k) {
			env = append(env, kv)
		}
	}
	return env
}
