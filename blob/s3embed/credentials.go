package s3embed

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// credentialsFile is the name, under Config.Dir, of the root credentials.
const credentialsFile = "credentials.json"

// credentials are the gateway's root S3 keys, generated once per Dir.
type credentials struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// loadOrCreateCredentials reads dir/credentials.json, or creates it with
// fresh random keys (mode 0600, written to a temporary name and renamed,
// so a crash never leaves a half-written file). created reports which.
func loadOrCreateCredentials(dir string) (c credentials, created bool, err error) {
	path := filepath.Join(dir, credentialsFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &c); err != nil {
			return c, false, fmt.Errorf("s3embed: read %s: %w", path, err)
		}
		if c.AccessKey == "" || c.SecretKey == "" {
			return c, false, fmt.Errorf("s3embed: read %s: access_key and secret_key must both be set", path)
		}
		// The file holds the root secret: keep it private even if a user
		// copied it around with a looser mode.
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return c, false, fmt.Errorf("s3embed: %s is readable by others and chmod failed: %w", path, err)
			}
		}
		return c, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return c, false, fmt.Errorf("s3embed: read credentials: %w", err)
	}

	c = credentials{
		AccessKey: randomString(20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
		SecretKey: randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
	}
	b, err = json.MarshalIndent(c, "", "  ")
	if err != nil {
		return c, false, err
	}
	if err := writeFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return c, false, fmt.Errorf("s3embed: write credentials: %w", err)
	}
	return c, true, nil
}

// randomString draws n characters uniformly from alphabet.
func randomString(n int, alphabet string) string {
	out := make([]byte, n)
	// rand.Text would do for the secret, but access keys are
	// conventionally upper-case alphanumerics; rejection sampling keeps
	// the draw uniform for any alphabet length.
	limit := 256 - 256%len(alphabet)
	var buf [1]byte
	for i := 0; i < n; {
		if _, err := rand.Read(buf[:]); err != nil {
			panic(err) // crypto/rand.Read never fails on supported platforms
		}
		if int(buf[0]) < limit {
			out[i] = alphabet[int(buf[0])%len(alphabet)]
			i++
		}
	}
	return string(out)
}

// writeFileAtomic writes data to a temporary file beside path, syncs it,
// and renames it over path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
