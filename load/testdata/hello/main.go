// hello is a program that uses the loader (load's binary-size test).
package main

import (
	"fmt"
	"os"

	"github.com/capy-oss/capy/load"
)

func main() {
	if err := load.Into(os.Setenv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("hello", os.Getenv("GREETING"))
}
