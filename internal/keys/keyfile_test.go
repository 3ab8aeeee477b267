package keys_test

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
)

func keyFile() keys.EnvKeyFile {
	var f keys.EnvKeyFile
	f.EnvID = envID
	f.Epoch = 42
	for i := range f.Key {
		f.Key[i] = byte(i*11 + 5)
	}
	return f
}

func TestEnvKeyFileRoundTrip(t *testing.T) {
	f := keyFile()
	text := f.Encode()
	want := "capy-ek 1 " + envID + " 42 " + hex.EncodeToString(f.Key[:]) + "\n"
	if text != want {
		t.Fatalf("Encode = %q, want %q", text, want)
	}
	line := strings.TrimSuffix(text, "\n")
	for _, in := range []string{text, line, line + "\r\n"} {
		got, err := keys.ParseEnvKeyFile(in)
		if err != nil || got != f {
			t.Errorf("ParseEnvKeyFile(%q) = %v", in, err)
		}
	}
	max := f
	max.Epoch = 0xffffffff
	if got, err := keys.ParseEnvKeyFile(max.Encode()); err != nil || got != max {
		t.Errorf("max epoch: %v", err)
	}
}

func TestEnvKeyFileRejects(t *testing.T) {
	f := keyFile()
	h := hex.EncodeToString(f.Key[:])
	line := func(env, epoch, key string) string { return "capy-ek 1 " + env + " " + epoch + " " + key }
	for name, in := range map[string]string{
		"empty":           "",
		"newline only":    "\n",
		"upper hex":       line(envID, "42", strings.ToUpper(h)),
		"one upper digit": line(envID, "42", "A"+h[1:]),
		"short key":       line(envID, "42", h[:62]),
		"long key":        line(envID, "42", h+"00"),
		"odd key":         line(envID, "42", h[:63]),
		"not hex":         line(envID, "42", "zz"+h[2:]),
		"project id":      line(projectID, "42", h),
		"bad env id":      line("env_../../..", "42", h),
		"upper env id":    line(strings.ToUpper(envID), "42", h),
		"epoch 0":         line(envID, "0", h),
		"epoch leading 0": line(envID, "042", h),
		"epoch plus":      line(envID, "+42", h),
		"epoch minus":     line(envID, "-42", h),
		"epoch too big":   line(envID, "4294967296", h),
		"epoch hex":       line(envID, "0x2a", h),
		"epoch empty":     line(envID, "", h),
		"missing key":     "capy-ek 1 " + envID + " 42",
		"missing epoch":   "capy-ek 1 " + envID + " " + h,
		"missing env":     "capy-ek 1 42 " + h,
		"no magic":        envID + " 42 " + h,
		"magic version 2": "capy-ek 2 " + envID + " 42 " + h,
		"magic upper":     "CAPY-EK 1 " + envID + " 42 " + h,
		"extra field":     line(envID, "42", h) + " x",
		"trailing space":  line(envID, "42", h) + " ",
		"leading space":   " " + line(envID, "42", h),
		"double space":    "capy-ek 1  " + envID + " 42 " + h,
		"tabs":            "capy-ek\t1\t" + envID + "\t42\t" + h,
		"two newlines":    line(envID, "42", h) + "\n\n",
		"second line":     line(envID, "42", h) + "\n" + line(envID, "42", h),
		"bare CR":         line(envID, "42", h) + "\r",
		"CR CR LF":        line(envID, "42", h) + "\r\r\n",
		"leading newline": "\n" + line(envID, "42", h),
		"NUL":             line(envID, "42", h) + "\x00",
	} {
		got, err := keys.ParseEnvKeyFile(in)
		if !errors.Is(err, keys.ErrKeyFileFormat) {
			t.Errorf("%s: ParseEnvKeyFile(%q) = %v, want ErrKeyFileFormat", name, in, err)
		}
		if got != (keys.EnvKeyFile{}) {
			t.Errorf("%s: returned a non-zero key file on error", name)
		}
		if err != nil && strings.Contains(err.Error(), h[:16]) {
			t.Errorf("%s: error %q contains the key", name, err)
		}
	}
}
