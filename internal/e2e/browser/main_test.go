package browser

import (
	"testing"

	"github.com/capy-oss/capy/internal/e2e/e2etest"
)

// TestMain builds the real capy and capyd once for the package's tests.
func TestMain(m *testing.M) { e2etest.Main(m) }
