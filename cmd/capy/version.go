package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/capy-oss/capy/internal/buildinfo"
)

// cmdVersion is `capy version` and `capy --version`: one line, or the
// fields as JSON; the same format as capyd's.
func cmdVersion(u *ui) error {
	in := buildinfo.Read("capy")
	return u.data(in, func(w io.Writer) { fmt.Fprintln(w, in) })
}

// userAgentVersion is the version as one User-Agent token (a tree built
// without git stamps a version with spaces).
func userAgentVersion() string {
	v := buildinfo.Read("capy").Version
	if i := strings.IndexByte(v, ' '); i >= 0 {
		v = v[:i]
	}
	return v
}
