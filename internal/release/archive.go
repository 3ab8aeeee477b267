package release

import (
	"archive/tar"
	"archive/zip"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File is one regular file of an archive: its path below the archive's
// top directory ("capy", "completions/capy.bash"), mode and content.
type File struct {
	Name string
	Mode fs.FileMode // 0755 or 0644
	Data []byte
}

// entries returns the files sorted by name with the directories they need
// (top itself first), as archive paths.
func entries(top string, files []File) (dirs []string, sorted []File) {
	sorted = slices.Clone(files)
	slices.SortFunc(sorted, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	seen := map[string]bool{}
	dirs = []string{top + "/"}
	for _, f := range sorted {
		for d := path.Dir(f.Name); d != "."; d = path.Dir(d) {
			if !seen[d] {
				seen[d] = true
				dirs = append(dirs, top+"/"+d+"/")
			}
		}
	}
	slices.Sort(dirs)
	return dirs, sorted
}

// WriteTarGz writes files under top/ as a gzip-compressed tar whose bytes
// depend only on its input: entries sorted (directories first), every
// mtime mtime, owner 0:0 with no names, USTAR headers, and a gzip header
// without name or time.
func WriteTarGz(w io.Writer, top string, files []File, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	dirs, sorted := entries(top, files)
	mtime = mtime.UTC().Truncate(time.Second)
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mtime, Format: tar.FormatUSTAR}); err != nil {
			return err
		}
	}
	for _, f := range sorted {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: top + "/" + f.Name, Mode: int64(f.Mode.Perm()), Size: int64(len(f.Data)),
			ModTime: mtime, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// WriteZip is WriteTarGz's zip form (for Windows): the same entries in the
// same order, every time mtime (UTC), Unix modes, deflate at the best
// compression.
func WriteZip(w io.Writer, top string, files []File, mtime time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	dirs, sorted := entries(top, files)
	mtime = mtime.UTC().Truncate(time.Second)
	for _, d := range dirs {
		h := &zip.FileHeader{Name: d, Method: zip.Store, Modified: mtime}
		h.SetMode(fs.ModeDir | 0o755)
		if _, err := zw.CreateHeader(h); err != nil {
			return err
		}
	}
	for _, f := range sorted {
		h := &zip.FileHeader{Name: top + "/" + f.Name, Method: zip.Deflate, Modified: mtime}
		h.SetMode(f.Mode.Perm())
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		if _, err := fw.Write(f.Data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// ChecksumsName is the checksum file of a release, in sha256sum's format.
const ChecksumsName = "SHA256SUMS"

// WriteChecksums writes dir/SHA256SUMS for the named files of dir, one
// "<hex>  <name>" line each, sorted by name (what `sha256sum -c` reads).
func WriteChecksums(dir string, names []string) error {
	names = slices.Clone(names)
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		sum, err := fileSHA256(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, n)
	}
	return os.WriteFile(filepath.Join(dir, ChecksumsName), []byte(b.String()), 0o644)
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
