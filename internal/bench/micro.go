package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// microPackages lists the packages of the module at root that have
// Benchmark functions (every bench_test.go, and the store benchmarks).
func microPackages(root string) ([]string, error) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{.Dir}}|{{join .TestGoFiles ","}},{{join .XTestGoFiles ","}}`, "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v", err)
	}
	var pkgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "|", 3)
		if len(f) != 3 {
			continue
		}
		for _, name := range strings.Split(f[2], ",") {
			if name == "" {
				continue
			}
			data, err := os.ReadFile(filepath.Join(f[1], name))
			if err == nil && bytes.Contains(data, []byte("\nfunc Benchmark")) {
				pkgs = append(pkgs, f[0])
				break
			}
		}
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("no Benchmark functions found")
	}
	return pkgs, nil
}

// Micro is one parsed `go test -bench` result.
type Micro struct {
	Pkg         string
	Name        string // without "Benchmark" and the -GOMAXPROCS suffix
	NsPerOp     float64
	BytesPerOp  int64
	AllocsPerOp int64
}

// RunMicro runs the micro-benchmarks of the module at root and parses them;
// raw receives go test's output as it is.
func RunMicro(root, benchtime string, raw *os.File) ([]Micro, error) {
	pkgs, err := microPackages(root)
	if err != nil {
		return nil, err
	}
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "1", "-benchtime", benchtime}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err = cmd.Run()
	if raw != nil {
		_, _ = raw.Write(out.Bytes())
	}
	if err != nil {
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, tail(out.String(), 4000))
	}
	var res []Micro
	pkg := ""
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(p, "github.com/capy-oss/capy/")
			continue
		}
		if m, ok := parseBenchLine(line); ok {
			m.Pkg = pkg
			res = append(res, m)
		}
	}
	return res, nil
}

// parseBenchLine parses "BenchmarkX/sub-2  N  123 ns/op [x MB/s] B B/op A allocs/op".
func parseBenchLine(line string) (Micro, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return Micro{}, false
	}
	name := strings.TrimPrefix(f[0], "Benchmark")
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	m := Micro{Name: name}
	found := false
	for i := 2; i+1 < len(f); i++ {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			continue
		}
		switch f[i+1] {
		case "ns/op":
			m.NsPerOp, found = v, true
		case "B/op":
			m.BytesPerOp = int64(v)
		case "allocs/op":
			m.AllocsPerOp = int64(v)
		}
	}
	return m, found
}

// fmtNs formats ns/op in the unit that suits it.
func fmtNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.0f ns", ns)
	}
}
