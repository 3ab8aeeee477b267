//go:build !unix

package workspace

// openFlags: elsewhere the Lstat checks and the check of the open file
// stand alone.
const openFlags = 0
