package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// An engine's log is kept in the bundle and its tail quoted in failure
// reasons; an engine that prints its environment or a request header would
// put the secrets the runner gave it there. The runner masks them: in
// LogTail and, once the engine stopped, in the log file itself (MaskLog).

// minMasked is the shortest value masked: a shorter one would mask ordinary
// text and, by the marks, tell what the secret is.
const minMasked = 4

// maskReplacer replaces each secret's value with "[secret NAME]"; nil when
// there is nothing to mask. longest is the longest value.
func maskReplacer(secrets map[string]string) (r *strings.Replacer, values []string, longest int) {
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(secrets)) {
		if v := secrets[k]; len(v) >= minMasked {
			pairs = append(pairs, v, "[secret "+k+"]")
			values = append(values, v)
			longest = max(longest, len(v))
		}
	}
	if len(pairs) == 0 {
		return nil, nil, 0
	}
	return strings.NewReplacer(pairs...), values, longest
}

// MaskSecrets replaces each secret's value in s with "[secret NAME]".
func MaskSecrets(s string, secrets map[string]string) string {
	r, _, _ := maskReplacer(secrets)
	if r == nil {
		return s
	}
	return r.Replace(s)
}

// MaskLog rewrites the engine's log with its secrets masked (MaskFile).
// Call it after Stop: a running engine would write on into the old file.
func (e *Engine) MaskLog() error { return MaskFile(e.cfg.LogPath, e.cfg.Secrets) }

// MaskFile rewrites the file at path with each secret's value replaced by
// "[secret NAME]", streaming (an engine's log can be large) through a
// temporary file renamed over it.
func MaskFile(path string, secrets map[string]string) (err error) {
	r, values, longest := maskReplacer(secrets)
	if r == nil {
		return nil
	}
	in, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mask secrets: %w", err)
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".mask*")
	if err != nil {
		return fmt.Errorf("mask secrets: %w", err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	if err := out.Chmod(0o600); err != nil {
		return fmt.Errorf("mask secrets: %w", err)
	}
	var pending []byte
	buf := make([]byte, 1<<20)
	for {
		n, rerr := in.Read(buf)
		pending = append(pending, buf[:n]...)
		eof := errors.Is(rerr, io.EOF)
		if rerr != nil && !eof {
			return fmt.Errorf("mask secrets: %w", rerr)
		}
		cut := len(pending)
		if !eof {
			cut = safeCut(pending, values, longest)
		}
		if _, err := io.WriteString(out, r.Replace(string(pending[:cut]))); err != nil {
			return fmt.Errorf("mask secrets: %w", err)
		}
		pending = append(pending[:0], pending[cut:]...)
		if eof {
			break
		}
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("mask secrets: %w", err)
	}
	if err := os.Rename(out.Name(), path); err != nil {
		return fmt.Errorf("mask secrets: %w", err)
	}
	return nil
}

// safeCut is where data can be cut so that no value could straddle the cut
// once more data follows: before the last longest-1 bytes, moved back to
// the start of any value that starts before the cut and runs past it.
func safeCut(data []byte, values []string, longest int) int {
	cut := max(len(data)-(longest-1), 0)
	for moved := true; moved; {
		moved = false
		for i := max(cut-longest+1, 0); i < cut; i++ {
			for _, v := range values {
				if i+len(v) > cut && bytes.HasPrefix(data[i:], []byte(v)) {
					cut, moved = i, true
					break
				}
			}
			if moved {
				break
			}
		}
	}
	return cut
}
