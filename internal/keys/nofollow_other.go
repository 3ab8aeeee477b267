//go:build !unix

package keys

const oNoFollow = 0
