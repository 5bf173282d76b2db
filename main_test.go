package cutover_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: shadow
// calls, sink queues and Close must all clean up after themselves.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
