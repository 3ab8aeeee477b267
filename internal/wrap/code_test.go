package wrap_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/wrap"
)

var codeErrors = []error{wrap.ErrCodeMistyped, wrap.ErrCodeFormat, wrap.ErrCodeKind}

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func token(seed byte) [wrap.TokenSize]byte {
	var t [wrap.TokenSize]byte
	for i := range t {
		t[i] = seed + byte(i)*13
	}
	return t
}

func redeemCode() wrap.RedeemCode {
	return wrap.RedeemCode{URL: "https://capy.example.com", OrgID: orgID, InviteID: inviteID, Token: token(1)}
}

func deployCode() wrap.DeployCode {
	return wrap.DeployCode{URL: "http://127.0.0.1:8080", OrgID: orgID, ProjectID: projectID, EnvID: envID,
		Epoch: 0x01020304, DeployID: deployID, Token: token(2)}
}

// Independent builders of the DESIGN §2.5 payloads, so malformed codes can
// be made with a valid CRC.
func u8(s string) []byte  { return append([]byte{byte(len(s))}, s...) }
func u16(s string) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...) }

func redeemPayload(url, org, inv string, tok [32]byte) []byte {
	p := []byte{0x01}
	p = append(p, u16(url)...)
	p = append(p, u8(org)...)
	p = append(p, u8(inv)...)
	return append(p, tok[:]...)
}

func deployPayload(url, org, prj, env string, epoch uint32, dep string, tok [32]byte) []byte {
	p := []byte{0x01}
	p = append(p, u16(url)...)
	p = append(p, u8(org)...)
	p = append(p, u8(prj)...)
	p = append(p, u8(env)...)
	p = binary.BigEndian.AppendUint32(p, epoch)
	p = append(p, u8(dep)...)
	return append(p, tok[:]...)
}

func encodeCode(prefix string, p []byte) string {
	full := binary.BigEndian.AppendUint32(bytes.Clone(p), crc32.ChecksumIEEE(p))
	return prefix + base64.RawURLEncoding.EncodeToString(full)
}

func TestRedeemCodeRoundTrip(t *testing.T) {
	c := redeemCode()
	text := c.Encode()
	want := encodeCode("capy-redeem-", redeemPayload(c.URL, c.OrgID, c.InviteID, c.Token))
	if text != want {
		t.Fatalf("Encode = %q\nwant (DESIGN §2.5) %q", text, want)
	}
	got, err := wrap.ParseRedeemCode(text)
	if err != nil || got != c {
		t.Fatalf("ParseRedeemCode = %+v, %v", got.Token, err)
	}
	for _, ws := range []string{" %s", "%s\n", "\t%s\r\n", "\n\n  %s  \n"} {
		if got, err := wrap.ParseRedeemCode(fmt.Sprintf(ws, text)); err != nil || got != c {
			t.Errorf("white space %q around the code: %v", ws, err)
		}
	}
}

func TestDeployCodeRoundTrip(t *testing.T) {
	c := deployCode()
	text := c.Encode()
	want := encodeCode("capy-deploy-", deployPayload(c.URL, c.OrgID, c.ProjectID, c.EnvID, c.Epoch, c.DeployID, c.Token))
	if text != want {
		t.Fatalf("Encode = %q\nwant (DESIGN §2.5) %q", text, want)
	}
	got, err := wrap.ParseDeployCode(text)
	if err != nil || got != c {
		t.Fatalf("ParseDeployCode: %v", err)
	}
	if got, err := wrap.ParseDeployCode("  " + text + "\n"); err != nil || got != c {
		t.Fatalf("white space around the code: %v", err)
	}
}

type codeParser struct {
	name   string
	text   string
	prefix string
	parse  func(string) error
}

func codeParsers() []codeParser {
	return []codeParser{
		{"redeem", redeemCode().Encode(), "capy-redeem-", func(s string) error { _, err := wrap.ParseRedeemCode(s); return err }},
		{"deploy", deployCode().Encode(), "capy-deploy-", func(s string) error { _, err := wrap.ParseDeployCode(s); return err }},
	}
}

// Every single-bit error in the decoded bytes (CRC-32 catches all of them)
// is reported as a mistyped code.
func TestCodeEveryDecodedBitFlip(t *testing.T) {
	for _, cp := range codeParsers() {
		raw, err := base64.RawURLEncoding.DecodeString(cp.text[len(cp.prefix):])
		if err != nil {
			t.Fatal(err)
		}
		for bit := range len(raw) * 8 {
			m := cp.prefix + base64.RawURLEncoding.EncodeToString(flipBit(raw, bit))
			if err := cp.parse(m); !errors.Is(err, wrap.ErrCodeMistyped) {
				t.Fatalf("%s: bit %d flipped: %v, want ErrCodeMistyped", cp.name, bit, err)
			}
		}
	}
}

// Every character substitution anywhere in the text, and every bit flip of
// the text itself, is refused.
func TestCodeEveryCharacterMutation(t *testing.T) {
	for _, cp := range codeParsers() {
		for i := range len(cp.text) {
			for j := range len(b64Alphabet) + 3 {
				var c byte
				switch {
				case j < len(b64Alphabet):
					c = b64Alphabet[j]
				case j == len(b64Alphabet):
					c = '='
				case j == len(b64Alphabet)+1:
					c = '\n'
				default:
					c = '+'
				}
				if c == cp.text[i] {
					continue
				}
				m := cp.text[:i] + string(c) + cp.text[i+1:]
				if err := cp.parse(m); err == nil {
					t.Fatalf("%s: character %d changed to %q: accepted", cp.name, i, c)
				}
			}
		}
		for bit := range len(cp.text) * 8 {
			if err := cp.parse(flipBitString(cp.text, bit)); err == nil {
				t.Fatalf("%s: text bit %d flipped: accepted", cp.name, bit)
			}
		}
	}
}

func TestCodeTruncated(t *testing.T) {
	for _, cp := range codeParsers() {
		for n := len(cp.prefix); n < len(cp.text); n++ {
			if err := cp.parse(cp.text[:n]); !errors.Is(err, wrap.ErrCodeMistyped) {
				t.Fatalf("%s: cut to %d of %d characters: %v, want ErrCodeMistyped", cp.name, n, len(cp.text), err)
			}
		}
		for n := range len(cp.prefix) {
			if err := cp.parse(cp.text[:n]); !errors.Is(err, wrap.ErrCodeFormat) {
				t.Fatalf("%s: cut inside the prefix to %d: %v, want ErrCodeFormat", cp.name, n, err)
			}
		}
	}
}

func TestCodeWrongKind(t *testing.T) {
	_, err := wrap.ParseDeployCode(redeemCode().Encode())
	assertOnly(t, "redeem code as deploy code", err, wrap.ErrCodeKind, codeErrors)
	_, err = wrap.ParseRedeemCode(deployCode().Encode())
	assertOnly(t, "deploy code as redeem code", err, wrap.ErrCodeKind, codeErrors)
	_, err = wrap.ParseRedeemCode(" " + deployCode().Encode())
	assertOnly(t, "deploy code with space", err, wrap.ErrCodeKind, codeErrors)
}

func TestRedeemCodeMalformed(t *testing.T) {
	good := redeemCode()
	tok := good.Token
	valid := redeemPayload(good.URL, orgID, inviteID, tok)
	enc := func(p []byte) string { return encodeCode("capy-redeem-", p) }
	cases := []struct {
		name string
		text string
		want error
	}{
		{"control", enc(valid), nil},
		{"not canonical: trailing slash", enc(redeemPayload("https://capy.example.com/", orgID, inviteID, tok)), wrap.ErrCodeFormat},
		{"not canonical: upper case host", enc(redeemPayload("https://Capy.example.com", orgID, inviteID, tok)), wrap.ErrCodeFormat},
		{"not canonical: default port", enc(redeemPayload("https://capy.example.com:443", orgID, inviteID, tok)), wrap.ErrCodeFormat},
		{"not canonical: space", enc(redeemPayload(" https://capy.example.com", orgID, inviteID, tok)), wrap.ErrCodeFormat},
		{"url with query", enc(redeemPayload("https://capy.example.com?x", orgID, inviteID, tok)), wrap.ErrCodeFormat},
		{"url with user", enc(redeemPayload("https://u@capy.example.com", orgID, inviteID, tok)), wrap.ErrCodeFormat},
		{"url empty", enc(redeemPayload("", orgID, inviteID, tok)), wrap.ErrCodeFormat},
		{"url not http", enc(redeemPayload("ftp://x.io", orgID, inviteID, tok)), wrap.ErrCodeFormat},
		{"org traversal", enc(redeemPayload(good.URL, "org_../../..", inviteID, tok)), wrap.ErrCodeFormat},
		{"org of wrong kind", enc(redeemPayload(good.URL, projectID, inviteID, tok)), wrap.ErrCodeFormat},
		{"invite of wrong kind", enc(redeemPayload(good.URL, orgID, deployID, tok)), wrap.ErrCodeFormat},
		{"invite empty", enc(redeemPayload(good.URL, orgID, "", tok)), wrap.ErrCodeFormat},
		{"invite upper", enc(redeemPayload(good.URL, orgID, strings.ToUpper(inviteID), tok)), wrap.ErrCodeFormat},
		{"trailing byte", enc(append(bytes.Clone(valid), 0)), wrap.ErrCodeFormat},
		{"token short", enc(valid[:len(valid)-1]), wrap.ErrCodeFormat},
		{"no token", enc(valid[:len(valid)-32]), wrap.ErrCodeFormat},
		{"version only", enc([]byte{1}), wrap.ErrCodeFormat},
		{"empty payload", enc(nil), wrap.ErrCodeMistyped},
		{"url length past end", enc(append([]byte{1, 0xff, 0xff}, "https://x.io"...)), wrap.ErrCodeFormat},
		{"version 0", enc(append([]byte{0}, valid[1:]...)), wrap.ErrCodeFormat},
		{"version 2", enc(append([]byte{2}, valid[1:]...)), wrap.ErrCodeFormat},
		{"wrong crc", "capy-redeem-" + base64.RawURLEncoding.EncodeToString(append(bytes.Clone(valid), 0, 0, 0, 0)), wrap.ErrCodeMistyped},
		{"crc little-endian", "capy-redeem-" + base64.RawURLEncoding.EncodeToString(binary.LittleEndian.AppendUint32(bytes.Clone(valid), crc32.ChecksumIEEE(valid))), wrap.ErrCodeMistyped},
		{"trailing garbage text", enc(valid) + "x", wrap.ErrCodeMistyped},
		{"trailing garbage word", enc(valid) + " please", wrap.ErrCodeMistyped},
		{"trailing dot", enc(valid) + ".", wrap.ErrCodeMistyped},
		{"padding", enc(valid) + "=", wrap.ErrCodeMistyped},
		{"newline inside", enc(valid)[:30] + "\n" + enc(valid)[30:], wrap.ErrCodeMistyped},
		{"space inside", enc(valid)[:30] + " " + enc(valid)[30:], wrap.ErrCodeMistyped},
		{"upper prefix", strings.Replace(enc(valid), "capy-redeem-", "CAPY-REDEEM-", 1), wrap.ErrCodeFormat},
		{"no prefix", strings.TrimPrefix(enc(valid), "capy-redeem-"), wrap.ErrCodeFormat},
		{"empty", "", wrap.ErrCodeFormat},
		{"over-long", "capy-redeem-" + strings.Repeat("A", 5000), wrap.ErrCodeFormat},
	}
	for _, c := range cases {
		got, err := wrap.ParseRedeemCode(c.text)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if got != (wrap.RedeemCode{}) {
			t.Errorf("%s: returned a non-zero code on error", c.name)
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestDeployCodeMalformed(t *testing.T) {
	good := deployCode()
	tok := good.Token
	enc := func(p []byte) string { return encodeCode("capy-deploy-", p) }
	mk := func(url, org, prj, env string, epoch uint32, dep string) string {
		return enc(deployPayload(url, org, prj, env, epoch, dep, tok))
	}
	u := good.URL
	valid := deployPayload(u, orgID, projectID, envID, 1, deployID, tok)
	cases := []struct {
		name string
		text string
		want error
	}{
		{"control", mk(u, orgID, projectID, envID, 1, deployID), nil},
		{"control max epoch", mk(u, orgID, projectID, envID, 0xffffffff, deployID), nil},
		{"epoch 0", mk(u, orgID, projectID, envID, 0, deployID), wrap.ErrCodeFormat},
		{"url not canonical", mk("http://127.0.0.1:8080/", orgID, projectID, envID, 1, deployID), wrap.ErrCodeFormat},
		{"bad org", mk(u, "org_x", projectID, envID, 1, deployID), wrap.ErrCodeFormat},
		{"project traversal", mk(u, orgID, "prj_../../..", envID, 1, deployID), wrap.ErrCodeFormat},
		{"env of wrong kind", mk(u, orgID, projectID, projectID, 1, deployID), wrap.ErrCodeFormat},
		{"deploy of wrong kind", mk(u, orgID, projectID, envID, 1, inviteID), wrap.ErrCodeFormat},
		{"fields swapped", mk(u, orgID, envID, projectID, 1, deployID), wrap.ErrCodeFormat},
		{"trailing byte", enc(append(bytes.Clone(valid), 0)), wrap.ErrCodeFormat},
		{"token short", enc(valid[:len(valid)-1]), wrap.ErrCodeFormat},
		{"redeem payload in deploy prefix", enc(redeemPayload(u, orgID, inviteID, tok)), wrap.ErrCodeFormat},
		{"version 2", enc(append([]byte{2}, valid[1:]...)), wrap.ErrCodeFormat},
		{"trailing garbage", enc(valid) + "AA", wrap.ErrCodeMistyped},
		{"newline inside", enc(valid)[:40] + "\r\n" + enc(valid)[40:], wrap.ErrCodeMistyped},
	}
	for _, c := range cases {
		got, err := wrap.ParseDeployCode(c.text)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if got != (wrap.DeployCode{}) {
			t.Errorf("%s: returned a non-zero code on error", c.name)
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// Codes are passwords: no formatting verb that a log line might use shows
// the token or the code text.
func TestCodeRedaction(t *testing.T) {
	r, d := redeemCode(), deployCode()
	type wrapper struct {
		R wrap.RedeemCode
		D *wrap.DeployCode
	}
	secrets := func(text string, tok [32]byte) []string {
		return []string{
			text, text[len("capy-redeem-"):][:16], text[len(text)-16:],
			hex.EncodeToString(tok[:]), hex.EncodeToString(tok[:8]),
			base64.RawURLEncoding.EncodeToString(tok[:]), base64.StdEncoding.EncodeToString(tok[:12]),
			fmt.Sprint(tok[:])[1:30], // the decimal rendering of the bytes
		}
	}
	forbidden := append(secrets(r.Encode(), r.Token), secrets(d.Encode(), d.Token)...)
	values := []any{r, &r, d, &d, wrapper{r, &d}, []any{r, d}}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
			out := fmt.Sprintf(verb, v)
			if leak := containsAny(out, forbidden...); leak != "" {
				t.Errorf("fmt %s of %T leaks %q: %s", verb, v, leak, out)
			}
		}
	}
	for _, s := range []string{r.String(), d.String(), r.GoString(), d.GoString(), fmt.Sprint(r), fmt.Sprintln(d)} {
		if leak := containsAny(s, forbidden...); leak != "" {
			t.Errorf("%q leaks %q", s, leak)
		}
		if !strings.Contains(s, "redacted") {
			t.Errorf("%q does not say it is redacted", s)
		}
	}
}
