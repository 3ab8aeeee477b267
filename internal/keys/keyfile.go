package keys

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/capy-oss/capy/internal/ident"
)

// ErrKeyFileFormat means a CAPY_KEY value or .capy/decrypt file is not a
// capy-ek line.
var ErrKeyFileFormat = errors.New("not a capy environment key (expected \"capy-ek 1 <env id> <epoch> <hex key>\")")

// EnvKeyFile is the content of a CI key file (.capy/decrypt) or CAPY_KEY:
// one environment's EK at one epoch.
type EnvKeyFile struct {
	EnvID string
	Epoch uint32
	Key   EnvKey
}

// String redacts the key.
func (f EnvKeyFile) String() string {
	return fmt.Sprintf("%s %s %d %s", keyFileMagic, f.EnvID, f.Epoch, redacted)
}

// GoString redacts the key.
func (f EnvKeyFile) GoString() string { return f.String() }

// Encode returns "capy-ek 1 <envId> <epoch> <hex EK>\n".
func (f EnvKeyFile) Encode() string {
	return fmt.Sprintf("%s %s %d %s\n", keyFileMagic, f.EnvID, f.Epoch, hex.EncodeToString(f.Key[:]))
}

// ParseEnvKeyFile parses a key-file line. A final newline (LF or CRLF) is
// optional, so the line also works pasted into CAPY_KEY.
func ParseEnvKeyFile(text string) (EnvKeyFile, error) {
	if line, ok := strings.CutSuffix(text, "\n"); ok {
		text = strings.TrimSuffix(line, "\r") // a CR only as part of CRLF
	}
	f := strings.Split(text, " ")
	if len(f) != 5 || f[0]+" "+f[1] != keyFileMagic {
		return EnvKeyFile{}, ErrKeyFileFormat
	}
	if err := ident.CheckID(ident.Env, f[2]); err != nil {
		return EnvKeyFile{}, fmt.Errorf("%w: %v", ErrKeyFileFormat, err)
	}
	epoch, err := strconv.ParseUint(f[3], 10, 32)
	if err != nil || epoch == 0 || f[3] != strconv.FormatUint(epoch, 10) {
		return EnvKeyFile{}, fmt.Errorf("%w: bad epoch", ErrKeyFileFormat)
	}
	raw, err := hex.DecodeString(f[4])
	if err != nil || len(raw) != Size || f[4] != strings.ToLower(f[4]) {
		return EnvKeyFile{}, fmt.Errorf("%w: key must be 64 lowercase hex digits", ErrKeyFileFormat)
	}
	out := EnvKeyFile{EnvID: f[2], Epoch: uint32(epoch)}
	copy(out.Key[:], raw)
	return out, nil
}
