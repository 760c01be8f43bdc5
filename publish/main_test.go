package publish_test

import (
	"testing"

	"github.com/agentwatt/agentwatt/verifier/verifiertest/known"
)

func TestMain(m *testing.M) { known.Main(m) }
