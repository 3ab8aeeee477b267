package release

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's shape. The Dockerfile at the module root builds the same
// image with a Docker engine; a test keeps the two in step.
const (
	ImageBinary  = "/usr/local/bin/capyd"
	ImageDataDir = "/data"
	ImageUID     = 65532 // distroless's "nonroot"; named capyd here
	ImagePort    = "8787/tcp"
	ImageRepo    = "capy-oss/capyd"
	// ImageSource is the org.opencontainers.image.source label.
	ImageSource = "https://github.com/capy-oss/capy"
)

// ImageConfig is the image's run configuration: who runs what, where the
// data lives, what is exposed, how Docker checks its health.
func ImageConfig(s Stamp) v1.Config {
	return v1.Config{
		User:       fmt.Sprintf("%d:%d", ImageUID, ImageUID),
		Entrypoint: []string{ImageBinary},
		Cmd:        []string{"serve"},
		Env: []string{
			"PATH=/usr/local/bin",
			"CAPYD_DATA_DIR=" + ImageDataDir,
			"CAPYD_LISTEN=0.0.0.0:8787",
		},
		WorkingDir:   ImageDataDir,
		ExposedPorts: map[string]struct{}{ImagePort: {}},
		Volumes:      map[string]struct{}{ImageDataDir: {}},
		StopSignal:   "SIGTERM",
		Healthcheck: &v1.HealthConfig{
			Test:        []string{"CMD", ImageBinary, "healthcheck"},
			Interval:    30 * time.Second,
			Timeout:     5 * time.Second,
			StartPeriod: 10 * time.Second,
			Retries:     3,
		},
		Labels: map[string]string{
			"org.opencontainers.image.title":         "capyd",
			"org.opencontainers.image.description":   "the capy service: stores only ciphertext, strips the outer wrap, checks membership",
			"org.opencontainers.image.version":       s.Version,
			"org.opencontainers.image.revision":      s.Commit,
			"org.opencontainers.image.created":       s.Time().Format(time.RFC3339),
			"org.opencontainers.image.source":        ImageSource,
			"org.opencontainers.image.url":           ImageSource,
			"org.opencontainers.image.documentation": ImageSource + "/blob/main/docs/server.md",
		},
	}
}

// Image builds capyd's image for one architecture from scratch: one layer
// holding the static capyd, /etc/passwd and /etc/group naming its user,
// the CA bundle (SMTP and PostgreSQL over TLS check certificates) when
// caBundle is not "", the /data directory owned by that user and a /tmp.
func Image(capyd []byte, caBundle []byte, arch string, s Stamp) (v1.Image, error) {
	layerTar, err := imageLayer(capyd, caBundle, s.Time())
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: s.Time()}, CreatedBy: "capy internal/release: capyd " + s.Version, Comment: "static capyd, /etc/passwd, /data"},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = arch, "linux"
	cf.Created = v1.Time{Time: s.Time()}
	cf.Author = "capy"
	cf.Config = ImageConfig(s)
	return mutate.ConfigFile(img, cf)
}

// imageLayer is the image's one layer as a tar, with fixed times and
// owners and sorted entries.
func imageLayer(capyd, caBundle []byte, mtime time.Time) ([]byte, error) {
	type entry struct {
		name     string
		dir      bool
		mode     int64
		uid, gid int
		data     []byte
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\ncapyd:x:%d:%d:capyd:%s:/sbin/nologin\n", ImageUID, ImageUID, ImageDataDir)
	group := fmt.Sprintf("root:x:0:\ncapyd:x:%d:\n", ImageUID)
	es := []entry{
		{name: "data/", dir: true, mode: 0o700, uid: ImageUID, gid: ImageUID},
		{name: "etc/", dir: true, mode: 0o755},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
	}
	if caBundle != nil {
		es = append(es,
			entry{name: "etc/ssl/", dir: true, mode: 0o755},
			entry{name: "etc/ssl/certs/", dir: true, mode: 0o755},
			entry{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: caBundle})
	}
	es = append(es,
		entry{name: "tmp/", dir: true, mode: 0o1777},
		entry{name: "usr/", dir: true, mode: 0o755},
		entry{name: "usr/local/", dir: true, mode: 0o755},
		entry{name: "usr/local/bin/", dir: true, mode: 0o755},
		entry{name: strings.TrimPrefix(ImageBinary, "/"), mode: 0o755, data: capyd})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime = mtime.UTC().Truncate(time.Second)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: mtime, Format: tar.FormatPAX}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ImageOptions are what Images builds.
type ImageOptions struct {
	Builder
	Stamp  Stamp
	Arches []string // linux architectures: amd64, arm64
	// CABundle is a PEM file of CA certificates copied into the image;
	// "" ships none (capyd then cannot check TLS certificates of an SMTP
	// relay or a PostgreSQL server).
	CABundle string
	Out      string // directory: oci/ (an OCI layout) and the docker tarball
}

// Images builds capyd for each architecture and its image, and writes
// them to o.Out as an OCI image layout (oci/, one index naming every
// architecture; `skopeo copy oci:…` or `crane push` publishes it) and, for
// the first architecture, a tarball `docker load` reads. It returns the
// tarball's path.
func Images(ctx context.Context, o ImageOptions) (string, error) {
	if err := o.Stamp.Check(); err != nil {
		return "", err
	}
	if len(o.Arches) == 0 {
		return "", fmt.Errorf("no architectures")
	}
	var ca []byte
	if o.CABundle != "" {
		var err error
		if ca, err = os.ReadFile(o.CABundle); err != nil {
			return "", fmt.Errorf("CA bundle: %w", err)
		}
	}
	tmp, err := os.MkdirTemp("", "capy-image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	tag, err := name.NewTag(ImageRepo + ":" + strings.TrimPrefix(o.Stamp.Version, "v"))
	if err != nil {
		return "", fmt.Errorf("image tag: %w", err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var first v1.Image
	for _, arch := range o.Arches {
		bins, err := o.Build(ctx, Target{"linux", arch}, o.Stamp, filepath.Join(tmp, arch), "capyd")
		if err != nil {
			return "", err
		}
		bin, err := os.ReadFile(bins[0])
		if err != nil {
			return "", err
		}
		img, err := Image(bin, ca, arch, o.Stamp)
		if err != nil {
			return "", fmt.Errorf("image for linux/%s: %w", arch, err)
		}
		if first == nil {
			first = img
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	ociDir := filepath.Join(o.Out, "oci")
	if err := os.RemoveAll(ociDir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return "", err
	}
	p, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		return "", err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag.TagStr(),
	})); err != nil {
		return "", err
	}
	o.logf("release: wrote the OCI image layout %s (%s, linux/%s)", ociDir, tag, strings.Join(o.Arches, ", linux/"))
	tarPath := filepath.Join(o.Out, fmt.Sprintf("capyd_%s_linux_%s.docker.tar", strings.TrimPrefix(o.Stamp.Version, "v"), o.Arches[0]))
	if err := tarball.WriteToFile(tarPath, tag, first); err != nil {
		return "", err
	}
	if err := os.Chmod(tarPath, fs.FileMode(0o644)); err != nil {
		return "", err
	}
	o.logf("release: wrote %s (docker load -i %s)", tarPath, tarPath)
	return tarPath, nil
}
