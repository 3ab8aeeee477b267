package load_test

import (
	"fmt"
	"log"
	"os"

	"github.com/capy-oss/capy/load"
)

// A program reads its environment's values first thing, as `capy run`
// would have given them, then uses them as any variable.
func Example() {
	leave := enterExampleCheckout() // a checkout where the key is in CAPY_KEY (see fixture)
	defer leave()

	if err := load.Into(os.Setenv); err != nil {
		log.Fatalf("capy: %v", err)
	}
	fmt.Println(os.Getenv("GREETING"))
	fmt.Println(os.Getenv("DATABASE_URL")) // ${DB_PASSWORD} expanded
	fmt.Println(os.Getenv("TEMPLATE"))     // a literal value is not
	fmt.Println(os.Getenv("OVERRIDDEN"))   // .env.local over .env
	fmt.Println(os.Getenv("CONTRIBUTED"))  // a sealed value (capy encrypt)
	// Output:
	// hello from capy
	// postgres://app:pg-secret-1a2b@db/app
	// keep ${AS} is
	// my laptop's value
	// from a contributor
}

// enterExampleCheckout makes a checkout in a temporary directory, enters
// it and sets CAPY_KEY; leave undoes all three.
func enterExampleCheckout() (leave func()) {
	dir, err := os.MkdirTemp("", "capy-load-example")
	if err != nil {
		log.Fatal(err)
	}
	f, err := newFixture(dir)
	if err != nil {
		log.Fatal(err)
	}
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		log.Fatal(err)
	}
	os.Setenv("CAPY_KEY", f.KeyLine)
	return func() {
		os.Chdir(wd)
		os.Unsetenv("CAPY_KEY")
		os.RemoveAll(dir)
		for _, n := range []string{"GREETING", "DATABASE_URL", "DB_PASSWORD", "TEMPLATE", "MULTI", "OVERRIDDEN", "CONTRIBUTED", "ONLY_LOCAL"} {
			os.Unsetenv(n)
		}
	}
}
