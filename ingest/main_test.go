package ingest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaks a goroutine (a zstd decoder or
// encoder left open, say).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
