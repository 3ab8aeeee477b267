package envfile

import (
	"fmt"
	"strings"
	"testing"
)

// benchFile builds a .env of n variables in the usual mix of styles.
func benchFile(n int) []byte {
	var b strings.Builder
	b.WriteString("# generated for BenchmarkParseRewrite\n\n")
	for i := 0; i < n; i++ {
		switch i % 5 {
		case 0:
			fmt.Fprintf(&b, "VAR_%d=plain-value-%d\n", i, i)
		case 1:
			fmt.Fprintf(&b, "export VAR_%d=\"double quoted %d\" # comment\n", i, i)
		case 2:
			fmt.Fprintf(&b, "VAR_%d='single $quoted %d'\n", i, i)
		case 3:
			fmt.Fprintf(&b, "# about VAR_%d\nVAR_%d = spaced %d\n", i, i, i)
		case 4:
			fmt.Fprintf(&b, "VAR_%d=%s\n", i, snip)
		}
	}
	return []byte(b.String())
}

// BenchmarkParseRewrite: parse, set every value to a new snippet-like
// string, serialise. Target: 10,000 variables in at most 10 ms.
func BenchmarkParseRewrite(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		data := benchFile(n)
		snippets := make([]string, n)
		for i := range snippets {
			snippets[i] = fmt.Sprintf("capy:%05d:%s", i, snip[len("capy:abcde:"):])
		}
		b.Run(fmt.Sprintf("vars=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				d, err := Parse(data)
				if err != nil {
					b.Fatal(err)
				}
				for i, name := range d.Names() {
					if err := d.Set(name, snippets[i], false); err != nil {
						b.Fatal(err)
					}
				}
				if len(d.Bytes()) == 0 {
					b.Fatal("empty")
				}
			}
		})
	}
}
