package bundle

import (
	"fmt"
	"io"
)

// Limits bound what reading a bundle may cost. A file above its limit is
// refused before it is read.
type Limits struct {
	Envelope int64 // manifest.dsse.json, bytes
	Manifest int64 // manifest.json, bytes
	File     int64 // any listed file as stored (compressed), bytes
	Files    int   // files the manifest may list
}

// DefaultLimits are generous for real bundles (a 5M-request run's records
// are a few hundred MB compressed) and small enough to refuse abuse.
var DefaultLimits = Limits{
	Envelope: 16 << 20,
	Manifest: 8 << 20,
	File:     64 << 30,
	Files:    64,
}

func (l Limits) withDefaults() Limits {
	if l.Envelope <= 0 {
		l.Envelope = DefaultLimits.Envelope
	}
	if l.Manifest <= 0 {
		l.Manifest = DefaultLimits.Manifest
	}
	if l.File <= 0 {
		l.File = DefaultLimits.File
	}
	if l.Files <= 0 {
		l.Files = DefaultLimits.Files
	}
	return l
}

// readLimited reads r to its end, refusing more than limit bytes with
// ErrTooLarge.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("more than %d bytes: %w", limit, ErrTooLarge)
	}
	return data, nil
}
