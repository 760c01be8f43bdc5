package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// ManifestSchemaVersion is the version of Manifest this build writes.
// Version 2 added Pool and requires every field that binds the bundle to
// its job (Binding); version 1 manifests are still read, and a verifier
// with the job's record checks what they lack against it.
const ManifestSchemaVersion = 2

// manifestSchemaV1 is the first version: no pool, binding fields optional.
const manifestSchemaV1 = 1

// Manifest describes one attempt's bundle. It is the predicate of the signed
// statement and is written, identical, to manifest.json.
type Manifest struct {
	SchemaVersion int    `json:"schema_version"`
	Job           string `json:"job"`
	Attempt       int    `json:"attempt"`
	SpecDigest    string `json:"spec_digest"` // digest of the canonical spec, workload pinned
	// Pool is the queue pool the job was taken from ("h200x8", "sim");
	// empty only in version 1 manifests.
	Pool   string `json:"pool,omitempty"`
	Runner Runner `json:"runner"`
	// Inventory is the runner's hardware inventory as discovered (the
	// runner's own JSON; numbers beyond 2^53 do not survive signing, so
	// large identifiers belong in strings).
	Inventory json.RawMessage   `json:"inventory"`
	Software  map[string]string `json:"software"` // name → version: driver, cuda, engine, agentwatt …
	Rules     Rules             `json:"rules"`
	Workload  Workload          `json:"workload"`
	Simulated bool              `json:"simulated"` // the sim engine stood in for the hardware
	// Repeats is the spec's benchmark.repeats as the runner ran it (the
	// windows at each tier's N_max); 0 in manifests written before it was
	// signed. The verifier holds it to the job record online and counts the
	// repeat windows by it offline, where no job record is at hand.
	Repeats int `json:"repeats,omitempty"`
	// Incomplete marks a bundle of what was measured before a cancellation
	// or failure; it need not hold every RequiredFiles entry.
	Incomplete       bool      `json:"incomplete"`
	IncompleteReason string    `json:"incomplete_reason,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	Files            []File    `json:"files"` // sorted by name; the signed set
}

// maxRepeats bounds a manifest's repeats (the spec's own bound is lower;
// this keeps a hostile number from sizing anything).
const maxRepeats = 100

// Runner identifies who measured and signed.
type Runner struct {
	ID      string `json:"id"`      // the runner's name (its enrolled key's name)
	Version string `json:"version"` // agentwatt version of the runner
	KeyID   string `json:"key_id"`  // KeyID of the signing key
}

// Rules names the benchmark rules the run followed.
type Rules struct {
	Version string `json:"version"`
	Profile string `json:"profile"` // official, quick or test
}

// Workload names the workload replayed.
type Workload struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

// File is one file of the signed set.
type File struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"` // lower-case hex
	Size   int64  `json:"size"`
}

// File returns the listed file called name.
func (m *Manifest) File(name string) (File, bool) {
	for _, f := range m.Files {
		if f.Name == name {
			return f, true
		}
	}
	return File{}, false
}

// Validate checks what a manifest must hold to be signed or trusted: the
// schema version, job and attempt, the fields that bind it to its job
// (version 2: spec digest, pool, runner id; for a complete bundle also the
// rules version and profile and the workload digest), and a file list of valid, unique names in order, each
// with a sha256 and a size.
func (m *Manifest) Validate() error {
	var errs []error
	if m.SchemaVersion != ManifestSchemaVersion && m.SchemaVersion != manifestSchemaV1 {
		errs = append(errs, fmt.Errorf("schema_version %d: %w (want %d or %d)", m.SchemaVersion, ErrSchemaVersion, manifestSchemaV1, ManifestSchemaVersion))
	}
	if m.Job == "" {
		errs = append(errs, errors.New("job: empty"))
	}
	if m.Attempt < 1 {
		errs = append(errs, fmt.Errorf("attempt: %d, want ≥ 1", m.Attempt))
	}
	if m.Runner.KeyID == "" {
		errs = append(errs, errors.New("runner.key_id: empty"))
	}
	if m.Repeats < 0 || m.Repeats > maxRepeats {
		errs = append(errs, fmt.Errorf("repeats: %d, want 0 to %d", m.Repeats, maxRepeats))
	}
	if m.SchemaVersion >= ManifestSchemaVersion {
		binding := []struct{ name, v string }{{"spec_digest", m.SpecDigest}, {"pool", m.Pool}, {"runner.id", m.Runner.ID}}
		if !m.Incomplete {
			// An attempt that failed before it chose its rules or workload
			// is bundled without them; a complete one names them.
			binding = append(binding, []struct{ name, v string }{
				{"rules.version", m.Rules.Version}, {"rules.profile", m.Rules.Profile}, {"workload.digest", m.Workload.Digest},
			}...)
		}
		for _, f := range binding {
			if f.v == "" {
				errs = append(errs, fmt.Errorf("%s: empty: it binds the bundle to its job", f.name))
			}
		}
		if h, ok := strings.CutPrefix(m.SpecDigest, DigestSHA256+":"); m.SpecDigest != "" && (!ok || !validSHA256(h)) {
			errs = append(errs, fmt.Errorf("spec_digest %q: want sha256:<64 lower-case hex>", m.SpecDigest))
		}
	}
	for i, f := range m.Files {
		if !ValidName(f.Name) {
			errs = append(errs, fmt.Errorf("files[%d].name %q: %w", i, f.Name, ErrInvalidName))
		}
		if !validSHA256(f.SHA256) {
			errs = append(errs, fmt.Errorf("files[%d].sha256 %q: want 64 lower-case hex digits", i, f.SHA256))
		}
		if f.Size < 0 {
			errs = append(errs, fmt.Errorf("files[%d].size %d: negative", i, f.Size))
		}
		if i > 0 && m.Files[i-1].Name >= f.Name {
			errs = append(errs, fmt.Errorf("files[%d].name %q: names must be unique and sorted", i, f.Name))
		}
	}
	return errors.Join(errs...)
}

// DecodeManifest reads a manifest strictly: unknown fields, trailing data
// and other schema versions are errors; name labels them (a file name).
func DecodeManifest(name string, data []byte) (*Manifest, error) {
	var m Manifest
	if err := decodeStrict(name, data, &m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &m, nil
}

// marshalManifest is the canonical manifest.json: indented, trailing newline.
func marshalManifest(m *Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

func sortFiles(fs []File) {
	slices.SortFunc(fs, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
}

// validSHA256 reports whether s is a sha256 digest in lower-case hex.
func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data, with errors located as name:line:col.
func decodeStrict(name string, data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return locate(name, data, dec.InputOffset(), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s:%s: trailing data after the JSON value", name, lineCol(data, dec.InputOffset()))
	}
	return nil
}

// locate turns a JSON decoding error into name:line:col: message.
func locate(name string, data []byte, fallback int64, err error) error {
	off := fallback
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
		if te.Field != "" {
			return fmt.Errorf("%s:%s: %s: want %s, got JSON %s", name, lineCol(data, off), te.Field, te.Type, te.Value)
		}
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%s: empty document", name)
	case errors.Is(err, io.ErrUnexpectedEOF):
		off = int64(len(data))
	}
	return fmt.Errorf("%s:%s: %v", name, lineCol(data, off), err)
}

// lineCol is the 1-based line and column of byte offset off.
func lineCol(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	line, col := 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("%d:%d", line, col)
}
