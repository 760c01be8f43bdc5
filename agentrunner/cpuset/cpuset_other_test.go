//go:build !linux

package cpuset

import (
	"errors"
	"testing"
)

func TestUnsupported(t *testing.T) {
	if _, err := Pin("0"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Pin = %v, want ErrUnsupported", err)
	}
	if err := Validate("0", "1"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Validate = %v, want ErrUnsupported", err)
	}
	if _, err := Allowed(); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Allowed = %v, want ErrUnsupported", err)
	}
}
