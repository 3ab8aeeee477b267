// empty is the baseline of load's binary-size test.
package main

func main() {}
