// Command capyd is the capy service: it stores ciphertext, adds and strips
// the outer wrap, and checks membership on every path to a decryption.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "capyd: the service is not built yet; see README.md for the roadmap")
	os.Exit(1)
}
