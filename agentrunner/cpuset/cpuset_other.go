//go:build !linux

package cpuset

// Pinning is the process restricted to a CPU set; on this OS there is none.
type Pinning struct{}

// Allowed returns ErrUnsupported: CPU affinity is set on Linux only.
func Allowed() (string, error) { return "", ErrUnsupported }

// Validate returns ErrUnsupported: CPU affinity is set on Linux only.
func Validate(client, engineCPUs string) error { return ErrUnsupported }

// Pin returns ErrUnsupported: CPU affinity is set on Linux only.
func Pin(list string) (*Pinning, error) { return nil, ErrUnsupported }

// Applied is empty.
func (p *Pinning) Applied() string { return "" }

// Check returns ErrUnsupported.
func (p *Pinning) Check() (Report, error) { return Report{}, ErrUnsupported }

// Restore returns ErrUnsupported.
func (p *Pinning) Restore() error { return ErrUnsupported }
