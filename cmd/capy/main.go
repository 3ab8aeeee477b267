// Command capy is the capy developer CLI: it encrypts every value of a
// project's .env on this machine and syncs the ciphertext with capyd.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "capy: the CLI is not built yet; see README.md for the roadmap")
	if len(os.Args) > 1 && (os.Args[1] == "--help" || os.Args[1] == "-h") {
		return
	}
	os.Exit(1)
}
