package importfmt

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "dotenvx", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// otherKeys is a keys file of another dotenvx project.
const otherKeys = "DOTENV_PRIVATE_KEY=7caca6222fa9b49c62b7eb0199c167a807737841319646b730edd0a71cebc94e\n"

func TestDotenvxRefuses(t *testing.T) {
	env, keys := testdata(t, "env"), testdata(t, "env.keys")
	tampered := bytes.Replace(env, []byte("VAR_00=encrypted:BGXo"), []byte("VAR_00=encrypted:BGXp"), 1)
	if bytes.Equal(tampered, env) {
		t.Fatal("the sample changed: update the tamper")
	}
	// A byte of the ciphertext (not the point) flipped: GCM refuses.
	i := bytes.Index(env, []byte("VAR_04=")) + len(`VAR_04="encrypted:`) + 140
	flipped := bytes.Clone(env)
	flipped[i] ^= 1
	if flipped[i] == '"' || flipped[i] == '\n' {
		t.Fatal("flipped a delimiter")
	}
	for _, c := range []struct {
		name, want string
		env, keys  []byte
	}{
		{"another project's keys", "another", env, []byte(otherKeys)},
		{"no private key", "no DOTENV_PRIVATE_KEY", env, []byte("OTHER=1\n")},
		{"not a key", "64 hex", env, []byte("DOTENV_PRIVATE_KEY=zz\n")},
		{"not encrypted by dotenvx", "no DOTENV_PUBLIC_KEY", []byte("A=1\n"), keys},
		{"a bad point", "VAR_00", tampered, keys},
		{"a flipped ciphertext byte", "VAR_04", flipped, keys},
		{"not base64", "base64", []byte("DOTENV_PUBLIC_KEY=03ac13499f5712227bc30e3a722d9d12514bb72edab930c618e0817bfb5a939e88\nX=encrypted:!!\n"), keys},
		{"two public keys", "two public keys", append([]byte("DOTENV_PUBLIC_KEY_CI=02aa\n"), env...), keys},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Dotenvx(c.env, c.keys)
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) || got != nil {
				t.Fatalf("got %d entries, %v; want an ErrFormat naming %q", len(got), err, c.want)
			}
			if strings.Contains(err.Error(), "simple-value") || strings.Contains(err.Error(), "héllo") {
				t.Fatalf("the error holds a value: %v", err)
			}
		})
	}
}

// TestDotenvxRotation: after a rotation .env.keys holds several keys
// separated by commas; each value opens with whichever key sealed it.
func TestDotenvxRotation(t *testing.T) {
	env, keys := testdata(t, "env"), string(testdata(t, "env.keys"))
	rotated := strings.Replace(keys, "DOTENV_PRIVATE_KEY=", "DOTENV_PRIVATE_KEY=7caca6222fa9b49c62b7eb0199c167a807737841319646b730edd0a71cebc94e,", 1)
	got, err := Dotenvx(env, []byte(rotated))
	if err != nil || len(got) != 100 {
		t.Fatalf("got %d, %v", len(got), err)
	}
}

func TestObjects(t *testing.T) {
	for _, c := range []struct {
		name, in string
		yaml     bool
		want     []Entry
		bad      string
	}{
		{"json", `{"A": "x ${B}", "B": ""}`, false, []Entry{{"A", "x ${B}", true}, {"B", "", true}}, ""},
		{"json number", `{"A": 1}`, false, nil, "not a string"},
		{"json nested", `{"A": {"B": "c"}}`, false, nil, "not a string"},
		{"json twice", `{"A": "1", "A": "2"}`, false, nil, "twice"},
		{"json trailing", `{"A": "1"} x`, false, nil, "after"},
		{"yaml", "A: x ${B}\nPORT: 5432\nDEBUG: true\nKEY: |\n  line one\n  line two\nQ: \"\"\n", true,
			[]Entry{{"A", "x ${B}", true}, {"PORT", "5432", true}, {"DEBUG", "true", true}, {"KEY", "line one\nline two\n", true}, {"Q", "", true}}, ""},
		{"yaml empty", "", true, nil, ""},
		{"yaml nested", "A:\n  B: c\n", true, nil, "nested value"},
		{"yaml list", "A: [1, 2]\n", true, nil, "nested value"},
		{"yaml null", "A:\n", true, nil, "null"},
		{"yaml alias", "A: &x v\nB: *x\n", true, nil, "alias"},
		{"yaml merge", "<<: {A: b}\n", true, nil, "plain string"},
		{"yaml twice", "A: 1\nA: 2\n", true, nil, ""},
		{"yaml two documents", "A: 1\n---\nB: 2\n", true, nil, "more than one"},
		{"yaml list at top", "- a\n", true, nil, "not a YAML mapping"},
		{"yaml bad name", "A B: 1\n", true, nil, "line 1: not a variable name"},
		{"json bad name", `{"PASS=hunter2": "x"}`, false, nil, "entry 1: not a variable name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			parse := JSON
			if c.yaml {
				parse = YAML
			}
			got, err := parse([]byte(c.in))
			if c.bad != "" || (c.want == nil && c.in != "") {
				if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.bad) {
					t.Fatalf("got %v, %v; want an ErrFormat with %q", got, err, c.bad)
				}
				return
			}
			if err != nil || len(got) != len(c.want) {
				t.Fatalf("got %v, %v; want %v", got, err, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("%d: got %+v, want %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

// FuzzDotenvx: any .env and keys text either decrypts or is refused with
// ErrFormat, never a panic; a file that decrypts names only names .env
// can hold.
func FuzzDotenvx(f *testing.F) {
	// A few lines of the real file (the whole of it makes each run slow:
	// 100 scalar multiplications under coverage).
	env := testdata(f, "env")
	f.Add(env[:bytes.Index(env, []byte("\nVAR_03="))+1], testdata(f, "env.keys"))
	f.Add([]byte("DOTENV_PUBLIC_KEY=03ac13499f5712227bc30e3a722d9d12514bb72edab930c618e0817bfb5a939e88\nX=encrypted:BGXo29pLzCXZ\n"), testdata(f, "env.keys"))
	f.Add([]byte("DOTENV_PUBLIC_KEY_CI=\nA=plain\n"), []byte("DOTENV_PRIVATE_KEY_CI=00\n"))
	f.Fuzz(func(t *testing.T, env, keys []byte) {
		got, err := Dotenvx(env, keys)
		if err != nil {
			if !errors.Is(err, ErrFormat) || got != nil {
				t.Fatalf("%v (entries %d)", err, len(got))
			}
			return
		}
		for _, e := range got {
			if strings.HasPrefix(e.Name, dotenvxPublicName) {
				t.Fatalf("the public key line was kept: %s", e.Name)
			}
		}
	})
}

// TestYAMLErrorNamesNoValue: a malformed YAML file is refused by line,
// without the parser's quoted text (which can be part of a value).
func TestYAMLErrorNamesNoValue(t *testing.T) {
	for _, raw := range []string{"A: ok\nB: \"sk_live_quoted\n", "A: ok\nB: sk_live_x: y\n", "A: ok\n\tB: sk_live_tab\n",
		// a .env given as YAML: the text before a colon is not a name
		"SMTP_PASS=\"sk_live p: word\"\n", "PASSWORD=sk_live_2:\n", "\"sk_live s3cr3t \": x\n", "A=sk_live: |\n  x\n", "? \"sk_live x\"\n: 1\n"} {
		_, err := YAML([]byte(raw))
		if err == nil || strings.Contains(err.Error(), "sk_live") || !strings.Contains(err.Error(), "line") {
			t.Errorf("YAML(%q): %v", raw, err)
		}
	}
}
