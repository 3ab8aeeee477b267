package server

import (
	"errors"
	"strings"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/wrap"
)

// maxJSONSafe is the largest version the API carries (2^53 − 1).
const maxJSONSafe = 1<<53 - 1

// blobHeaderLine is the first line of every environment blob.
const blobHeaderLine = "capy-blob 1"

// badBlob is a bad-blob problem naming the line at fault (0: none).
func badBlob(line int, detail string) *problemError {
	p := &problemError{slug: api.PBadBlob, detail: detail}
	if line > 0 {
		p.line = &line
	}
	return p
}

// checkBlob is the shape check of a pushed or rotated blob (docs/api.md
// §4.7): the service's own pass to name the line at fault, then
// wrap.ParseBlob — the client's parser, without the signature check — for
// the manifest fields.
func checkBlob(text string) (*wrap.Blob, error) {
	if len(text) > wrap.MaxBlobSize {
		return nil, badBlob(0, "the blob is larger than 8 MiB")
	}
	line := 1
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\n' {
			line++
			continue
		}
		if c < 0x20 || c > 0x7e {
			return nil, badBlob(line, "the blob may hold printable ASCII and line feeds only")
		}
	}
	if !strings.HasSuffix(text, "\n") {
		return nil, badBlob(line, "the blob must end with a line feed")
	}
	header, rest, hasManifest := strings.Cut(text[:len(text)-1], "\n")
	if header != blobHeaderLine {
		return nil, badBlob(1, "line 1 must be \"capy-blob 1\"")
	}
	if !hasManifest {
		return nil, badBlob(2, "the manifest line is missing")
	}
	manifest, _, _ := strings.Cut(rest, "\n")
	m, err := wrap.ParseBlob([]byte(blobHeaderLine + "\n" + manifest + "\n"))
	if err != nil {
		return nil, badBlob(2, "the manifest line is malformed")
	}
	if m.Version > maxJSONSafe {
		return nil, badBlob(2, "the manifest version is too large")
	}
	if (m.Version == 1) != (m.Parent == wrap.NoParent) {
		return nil, badBlob(2, "version 1, and only version 1, has parent \"-\"")
	}
	b, err := wrap.ParseBlob([]byte(text))
	if err == nil {
		return b, nil
	}
	var le *wrap.LineError
	switch {
	case errors.As(err, &le) && errors.Is(err, wrap.ErrBlobFormat):
		return nil, badBlob(le.Line, "the line is not a well-formed snippet")
	case errors.As(err, &le):
		return nil, badBlob(le.Line, "snippet lines must be strictly ascending")
	}
	return nil, badBlob(0, "the blob fails the shape check")
}
