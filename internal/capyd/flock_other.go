//go:build !unix

package capyd

import "os"

// flock is a no-op where advisory file locks are not available: do not
// run two `capyd kek rotate` at once there.
func flock(*os.File) error { return nil }
