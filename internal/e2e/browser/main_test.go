package browser

import (
	"testing"

	"github.com/capy-oss/capy/internal/e2e/e2etest"
)

// TestMain builds the capy binary once for the tests that run it.
func TestMain(m *testing.M) { e2etest.Main(m) }
