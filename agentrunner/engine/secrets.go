package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrSecretMissing: a secret a job names is not in the runner's store.
var ErrSecretMissing = errors.New("secret not in this runner's secret store")

// maxSecret bounds a secret file: a token or a key, not a data set.
const maxSecret = 64 << 10

// SecretDir is a runner's secret store: a directory holding one file per
// secret, named as the environment variable the engine reads it from
// (HF_TOKEN), holding its value (one trailing newline is dropped). The
// operator keeps it readable only by the runner's user; jobs name secrets,
// never carry them.
type SecretDir string

// Secret returns the value of the secret name.
func (d SecretDir) Secret(name string) (string, error) {
	if !envKeyRe.MatchString(name) {
		// A job record that bypassed validation must not read another file
		// ("../runner.key").
		return "", fmt.Errorf("secret %q: not a variable name", name)
	}
	if d == "" {
		return "", fmt.Errorf("secret %s: %w (the runner has no --secrets-dir)", name, ErrSecretMissing)
	}
	path := filepath.Join(string(d), name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("secret %s: %w (no file %s)", name, ErrSecretMissing, path)
	}
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("secret %s: %s is not a regular file", name, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecret+1))
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	if len(b) > maxSecret {
		return "", fmt.Errorf("secret %s: %s is over %d bytes", name, path, maxSecret)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" || strings.ContainsRune(v, 0) {
		return "", fmt.Errorf("secret %s: %s is empty or holds a NUL byte", name, path)
	}
	return v, nil
}
