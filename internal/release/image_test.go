package release

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImage builds capyd's image as `make image` does (for this machine's
// architecture), reads it back from the OCI layout, checks its
// configuration and its one layer, and runs the capyd inside it.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds capyd")
	}
	if Host().OS != "linux" {
		t.Skip("the image's capyd runs on linux")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ca := "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(ca); err != nil {
		ca = ""
	}
	if err := runReleaseProgram(root, "image", "-arches", Host().Arch, "-ca-bundle", ca, "-out", out); err != nil {
		t.Fatal(err)
	}
	dockerTar := filepath.Join(out, "capyd_0.1.0-test_linux_"+Host().Arch+".docker.tar")

	idx, err := layout.ImageIndexFromPath(filepath.Join(out, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	outer, err := idx.IndexManifest()
	if err != nil || len(outer.Manifests) != 1 || outer.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "0.1.0-test" {
		t.Fatalf("layout index: %+v %v", outer, err)
	}
	inner, err := idx.ImageIndex(outer.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := inner.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("image index: %+v %v", im, err)
	}
	if p := im.Manifests[0].Platform; p == nil || p.OS != "linux" || p.Architecture != Host().Arch {
		t.Fatalf("platform %+v", p)
	}
	img, err := inner.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != Host().Arch || !cf.Created.Time.Equal(testStamp.Time()) {
		t.Errorf("os %s arch %s created %v", cf.OS, cf.Architecture, cf.Created)
	}
	if c.User != "65532:65532" {
		t.Errorf("user %q: the image must not run as root", c.User)
	}
	if !reflect.DeepEqual(c.Entrypoint, []string{"/usr/local/bin/capyd"}) || !reflect.DeepEqual(c.Cmd, []string{"serve"}) {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	if _, ok := c.ExposedPorts["8787/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	if _, ok := c.Volumes["/data"]; !ok || len(c.Volumes) != 1 {
		t.Errorf("volumes %v", c.Volumes)
	}
	for _, e := range []string{"CAPYD_DATA_DIR=/data", "CAPYD_LISTEN=0.0.0.0:8787"} {
		if !slices.Contains(c.Env, e) {
			t.Errorf("env %v lacks %s", c.Env, e)
		}
	}
	if h := c.Healthcheck; h == nil || !reflect.DeepEqual(h.Test, []string{"CMD", "/usr/local/bin/capyd", "healthcheck"}) || h.Interval <= 0 || h.Retries <= 0 {
		t.Errorf("healthcheck %+v", h)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.title":    "capyd",
		"org.opencontainers.image.version":  "v0.1.0-test",
		"org.opencontainers.image.revision": testStamp.Commit,
		"org.opencontainers.image.created":  "2026-12-07T15:48:06Z",
		"org.opencontainers.image.source":   ImageSource,
	} {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}

	// The layer: what is in it, with which owners and modes.
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	fsRoot := t.TempDir()
	seen := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[h.Name] = h
		if !h.ModTime.Equal(testStamp.Time()) {
			t.Errorf("%s: mtime %v", h.Name, h.ModTime)
		}
		p := filepath.Join(fsRoot, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, os.FileMode(h.Mode)); err != nil {
			t.Fatal(err)
		}
	}
	if h := seen["usr/local/bin/capyd"]; h == nil || h.Mode != 0o755 || h.Uid != 0 {
		t.Errorf("capyd entry %+v", h)
	}
	if h := seen["data/"]; h == nil || h.Mode != 0o700 || h.Uid != ImageUID || h.Gid != ImageUID {
		t.Errorf("/data entry %+v: capyd (65532) must own it, 0700", h)
	}
	if h := seen["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("/tmp entry %+v", h)
	}
	passwd, _ := os.ReadFile(filepath.Join(fsRoot, "etc", "passwd"))
	if !strings.Contains(string(passwd), "\ncapyd:x:65532:65532:capyd:/data:") {
		t.Errorf("/etc/passwd:\n%s", passwd)
	}
	if ca != "" && seen["etc/ssl/certs/ca-certificates.crt"] == nil {
		t.Error("no CA bundle in the image")
	}
	// The capyd inside runs, and is the stamped one.
	v, err := exec.Command(filepath.Join(fsRoot, "usr", "local", "bin", "capyd"), "version", "--json").Output()
	if err != nil {
		t.Fatalf("capyd version from the image: %v", err)
	}
	var info struct{ Program, Version, Commit, Platform string }
	if err := json.Unmarshal(v, &info); err != nil || info.Program != "capyd" || info.Version != "v0.1.0-test" ||
		info.Commit != testStamp.Commit || info.Platform != "linux/"+Host().Arch {
		t.Errorf("capyd version --json from the image: %s (%v)", v, err)
	}

	// The docker tarball holds the same image: the same configuration
	// and layer (its manifest has Docker's media types).
	dimg, err := tarball.ImageFromPath(dockerTar, nil)
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := img.ConfigName()
	c2, err := dimg.ConfigName()
	if err != nil || c1 != c2 {
		t.Errorf("docker tarball config %v, layout config %v (%v)", c2, c1, err)
	}
	dl, err := dimg.Layers()
	if err != nil || len(dl) != 1 {
		t.Fatalf("docker tarball: %d layers, %v", len(dl), err)
	}
	l1, _ := layers[0].DiffID()
	l2, _ := dl[0].DiffID()
	if l1 != l2 {
		t.Errorf("docker tarball layer %v, layout layer %v", l2, l1)
	}
}

// TestDockerfileMatchesImage: the Dockerfile's final stage sets what the
// image `make image` builds sets, so the two cannot drift apart.
func TestDockerfileMatchesImage(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ins := dockerfileFinalStage(t, filepath.Join(root, "Dockerfile"))
	c := ImageConfig(testStamp)
	want := map[string]string{
		"USER":       c.User,
		"WORKDIR":    c.WorkingDir,
		"STOPSIGNAL": c.StopSignal,
		"VOLUME":     "/data",
		"EXPOSE":     ImagePort,
		"ENTRYPOINT": jsonArray(c.Entrypoint),
		"CMD":        jsonArray(c.Cmd),
		"ENV":        strings.Join(c.Env, " "),
		"HEALTHCHECK": "--interval=" + dur(c.Healthcheck.Interval) + " --timeout=" + dur(c.Healthcheck.Timeout) +
			" --start-period=" + dur(c.Healthcheck.StartPeriod) + " --retries=" + strconv.Itoa(c.Healthcheck.Retries) +
			" CMD " + jsonArray(c.Healthcheck.Test[1:]),
	}
	for k, v := range want {
		if ins[k] != v {
			t.Errorf("Dockerfile %s %q, the image has %q", k, ins[k], v)
		}
	}
	if !strings.HasPrefix(ins["FROM"], "gcr.io/distroless/static") {
		t.Errorf("FROM %q: a static distroless (or scratch) base", ins["FROM"])
	}
	for _, copy := range []string{"/out/usr/local/bin/capyd " + ImageBinary, "--chown=65532:65532 --chmod=0700 /out/data /data"} {
		if !strings.Contains(ins["COPY"], copy) {
			t.Errorf("Dockerfile COPY lines %q lack %q", ins["COPY"], copy)
		}
	}
	if !strings.Contains(ins["LABEL"], `org.opencontainers.image.source="`+ImageSource+`"`) {
		t.Errorf("LABEL %q", ins["LABEL"])
	}
}

// dockerfileFinalStage reads the instructions of the last FROM's stage
// (continuation lines joined; COPY and LABEL lines concatenated).
func dockerfileFinalStage(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	cont := ""
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cont += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		lines = append(lines, strings.Join(strings.Fields(cont+l), " "))
		cont = ""
	}
	ins := map[string]string{}
	for _, l := range lines {
		op, rest, _ := strings.Cut(l, " ")
		op = strings.ToUpper(op)
		switch op {
		case "FROM":
			ins = map[string]string{"FROM": rest}
		case "COPY", "LABEL", "ARG":
			ins[op] += rest + "\n"
		default:
			ins[op] = rest
		}
	}
	return ins
}

func jsonArray(s []string) string {
	b, _ := json.Marshal(s)
	return strings.ReplaceAll(string(b), `","`, `", "`)
}

// dur writes a whole number of seconds as the Dockerfile does ("30s").
func dur(d time.Duration) string { return strconv.Itoa(int(d/time.Second)) + "s" }
