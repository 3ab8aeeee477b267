package ident_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/ident"
)

// The shapes below are written out from DESIGN §2.0, not taken from the
// package, so a change to the package's patterns fails here.
// The package checks them with byte loops; these expressions are the
// reference the loops are compared with (TestMatchersAgreeWithDesign,
// FuzzMatchersAgreeWithDesign).
var (
	designIDPattern    = regexp.MustCompile(`^[a-z]{3}_[a-z2-7]{26}$`)
	designEmailPattern = regexp.MustCompile(`^[a-z0-9.!#$%&'*+/=?^_{|}~-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$`)
	designNamePattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)
)

var allKinds = []ident.Kind{ident.Org, ident.Project, ident.Env, ident.User, ident.Invite, ident.Deploy}

func TestKindPrefixes(t *testing.T) {
	want := map[ident.Kind]string{
		ident.Org: "org", ident.Project: "prj", ident.Env: "env",
		ident.User: "usr", ident.Invite: "inv", ident.Deploy: "dep",
	}
	for k, s := range want {
		if string(k) != s {
			t.Errorf("kind %q, want %q", k, s)
		}
	}
}

func TestCheckID(t *testing.T) {
	const r26 = "abcdefghijklmnopqrstuvwxyz" // 26 characters, all letters
	const r26digits = "234567234567234567234567ab"
	tests := []struct {
		kind ident.Kind
		id   string
		ok   bool
	}{
		{ident.Org, "org_" + r26, true},
		{ident.Project, "prj_" + r26digits, true},
		{ident.Env, "env_" + r26, true},
		{ident.User, "usr_" + r26, true},
		{ident.Invite, "inv_" + r26, true},
		{ident.Deploy, "dep_" + r26, true},

		// Wrong prefix for the kind asked for.
		{ident.Org, "prj_" + r26, false},
		{ident.Project, "org_" + r26, false},
		{ident.Env, "dep_" + r26, false},
		{ident.Deploy, "env_" + r26, false},
		{ident.User, "usx_" + r26, false},
		{ident.Org, "orgx" + r26, false},
		{ident.Org, "org-" + r26, false},
		{ident.Org, r26, false},

		// Length.
		{ident.Org, "org_" + r26[:25], false},
		{ident.Org, "org_" + r26 + "a", false},
		{ident.Org, "org_", false},
		{ident.Org, "", false},

		// Characters outside lowercase base32.
		{ident.Org, "org_" + strings.ToUpper(r26), false},
		{ident.Org, "ORG_" + r26, false},
		{ident.Org, "org_" + r26[:25] + "A", false},
		{ident.Org, "org_" + r26[:25] + "0", false},
		{ident.Org, "org_" + r26[:25] + "1", false},
		{ident.Org, "org_" + r26[:25] + "8", false},
		{ident.Org, "org_" + r26[:25] + "9", false},
		{ident.Org, "org_" + r26[:25] + "_", false},
		{ident.Org, "org_" + r26[:25] + "=", false},

		// Path traversal and injection.
		{ident.Org, "org_../../..", false},
		{ident.Org, "org_../../../../../../../../etc", false},
		{ident.Org, "org_" + r26[:23] + "/..", false},
		{ident.Org, "org_" + r26[:25] + "/", false},
		{ident.Org, "org_" + r26 + "\n", false},
		{ident.Org, "\norg_" + r26, false},
		{ident.Org, " org_" + r26, false},
		{ident.Org, "org_" + r26 + " ", false},
		{ident.Org, "org_" + r26 + "\x00", false},
		{ident.Org, "org_" + r26[:25] + ":", false},
	}
	for _, tt := range tests {
		err := ident.CheckID(tt.kind, tt.id)
		if tt.ok {
			if err != nil {
				t.Errorf("CheckID(%s, %q) = %v, want nil", tt.kind, tt.id, err)
			}
			if !ident.IsID(tt.id) {
				t.Errorf("IsID(%q) = false, want true", tt.id)
			}
			continue
		}
		if !errors.Is(err, ident.ErrBadID) {
			t.Errorf("CheckID(%s, %q) = %v, want ErrBadID", tt.kind, tt.id, err)
		}
	}
}

func TestIsIDAnyPrefix(t *testing.T) {
	id := "xyz_" + strings.Repeat("a", 26)
	if !ident.IsID(id) {
		t.Errorf("IsID(%q) = false: any three-letter prefix has the shape", id)
	}
	for _, k := range allKinds {
		if ident.CheckID(k, id) == nil {
			t.Errorf("CheckID(%s, %q) accepted a foreign prefix", k, id)
		}
	}
	for _, bad := range []string{"", "xy_" + strings.Repeat("a", 26), "xyz_" + strings.Repeat("a", 25), "org_../../.."} {
		if ident.IsID(bad) {
			t.Errorf("IsID(%q) = true", bad)
		}
	}
}

func TestNewIDShape(t *testing.T) {
	for _, k := range allKinds {
		id := ident.NewID(k)
		if !designIDPattern.MatchString(id) {
			t.Errorf("NewID(%s) = %q, not of the design shape", k, id)
		}
		if !strings.HasPrefix(id, string(k)+"_") {
			t.Errorf("NewID(%s) = %q, wrong prefix", k, id)
		}
		if err := ident.CheckID(k, id); err != nil {
			t.Errorf("CheckID(NewID(%s)) = %v", k, err)
		}
		for _, other := range allKinds {
			if other != k && ident.CheckID(other, id) == nil {
				t.Errorf("CheckID(%s, NewID(%s)) accepted", other, k)
			}
		}
	}
}

// TestNewIDRandomness checks uniqueness and that every one of the 26
// random positions actually varies over the whole alphabet: a constant
// character (padding, a zeroed byte) would cost entropy silently.
func TestNewIDRandomness(t *testing.T) {
	const n = 2000
	seen := make(map[string]bool, n)
	perPos := make([]map[byte]bool, 26)
	for i := range perPos {
		perPos[i] = make(map[byte]bool)
	}
	for range n {
		id := ident.NewID(ident.Env)
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
		for i := range 26 {
			perPos[i][id[4+i]] = true
		}
	}
	for i, m := range perPos {
		// 2000 draws from 32 symbols: all 32 appear with overwhelming
		// probability; 28 leaves a wide margin against flakes.
		if len(m) < 28 {
			t.Errorf("position %d of the random part took only %d distinct values", i, len(m))
		}
	}
}

func TestB32Alphabet(t *testing.T) {
	// RFC 4648 base32 of "f" is "MY" (uppercase); ours is lowercase, no padding.
	if got := ident.B32.EncodeToString([]byte("foobar")); got != "mzxw6ytboi" {
		t.Errorf("B32(foobar) = %q, want mzxw6ytboi", got)
	}
}

func TestCanonicalEmail(t *testing.T) {
	suffix := "@example.com"
	at254 := strings.Repeat("a", 254-len(suffix)) + suffix
	at255 := strings.Repeat("a", 255-len(suffix)) + suffix
	if len(at254) != 254 || len(at255) != 255 {
		t.Fatal("bad test setup")
	}
	tests := []struct {
		in   string
		want string // "" = error
	}{
		{"bob@example.com", "bob@example.com"},
		{"  Bob@Example.COM  ", "bob@example.com"},
		{"BOB@X.IO", "bob@x.io"},
		{"bob+tag@x.io", "bob+tag@x.io"},
		{"Bob+Tag.Two@Sub.Example.Co.Uk", "bob+tag.two@sub.example.co.uk"},
		{"o'neil@x.io", "o'neil@x.io"},
		{"a.b-c_d!#$%&*/=?^`{|}~@x-y.io", ""}, // backtick is not in the design set
		{"a.b-c_d!#$%&*/=?^{|}~@x-y.io", "a.b-c_d!#$%&*/=?^{|}~@x-y.io"},
		{"1@2.3", "1@2.3"},
		{at254, at254},
		{strings.ToUpper(at254[:10]) + at254[10:], at254},
		{"  " + at254 + "  ", at254}, // trimming happens before the length check

		{at255, ""},
		{"", ""},
		{"   ", ""},
		{"a@b", ""},
		{"bob@localhost", ""},
		{"bob", ""},
		{"@x.io", ""},
		{"bob@", ""},
		{"bob@@x.io", ""},
		{"bob@x@y.io", ""},
		{"bob@x..io", ""},
		{"bob@.x.io", ""},
		{"bob@x.io.", ""},
		{"bob@x_y.io", ""},
		{"bob @x.io", ""},
		{"bob@x .io", ""},
		{"a:b@x.io", ""},
		{"bob@x.io:25", ""},
		{"bob@x.io\n", ""},
		{"\tbob@x.io", ""}, // only ASCII spaces are trimmed
		{"bob@x.io\r", ""},
		{"bob\x00@x.io", ""},
		{"\"bob\"@x.io", ""},
		{"bob(c)@x.io", ""},
		{"<bob@x.io>", ""},
		{"bob@[127.0.0.1]", ""},
		{"bøb@x.io", ""},
		{"bob@exämple.com", ""},
		{"bob@x.io\u00a0", ""},     // non-breaking space is not trimmed, and not ASCII
		{"bob@\u212aelvin.io", ""}, // Kelvin sign lowercases to 'k' in Unicode; must not be folded
		{"bob@x.io\xff", ""},
	}
	for _, tt := range tests {
		got, err := ident.CanonicalEmail(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("CanonicalEmail(%q) = %q, want error", tt.in, got)
			} else if !errors.Is(err, ident.ErrBadEmail) {
				t.Errorf("CanonicalEmail(%q) error %v does not match ErrBadEmail", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CanonicalEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if again, err := ident.CanonicalEmail(got); err != nil || again != got {
			t.Errorf("CanonicalEmail not idempotent on %q: %q, %v", got, again, err)
		}
	}
}

// The canonical form goes into "orgId:email" salts; a colon would make two
// (org, email) pairs collide.
func TestCanonicalEmailNeverHasColon(t *testing.T) {
	for _, in := range []string{"a:b@c.d", "a@b:c.d", "a@b.c:d", ":a@b.c", "a@b.c:"} {
		if got, err := ident.CanonicalEmail(in); err == nil {
			t.Errorf("CanonicalEmail(%q) = %q, accepted a colon", in, got)
		}
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"A", true},
		{"_", true},
		{"a", true},
		{"DATABASE_URL", true},
		{"db.host", true},
		{"_9", true},
		{"A1.2_3", true},
		{"a..b", true},
		{"A.", true},
		{strings.Repeat("A", 256), true},
		{"a" + strings.Repeat("9", 255), true},

		{strings.Repeat("A", 257), false},
		{"", false},
		{"1A", false},
		{"9", false},
		{".A", false},
		{"A-B", false},
		{"A B", false},
		{"A=B", false},
		{"A:B", false},
		{"A\x00B", false},
		{"A\n", false},
		{" A", false},
		{"A ", false},
		{"É", false},
		{"AÉ", false},
		{"export A", false},
		{"$A", false},
		{"A/B", false},
		{"../A", false},
	}
	for _, tt := range tests {
		err := ident.CheckName(tt.name)
		if tt.ok && err != nil {
			t.Errorf("CheckName(%q) = %v, want nil", tt.name, err)
		}
		if !tt.ok && !errors.Is(err, ident.ErrBadName) {
			t.Errorf("CheckName(%q) = %v, want ErrBadName", tt.name, err)
		}
	}
}

// TestMatchersAgreeWithDesign runs the byte loops and the design's regular
// expressions over the edges of each shape: both must give the answer in
// the table.
func TestMatchersAgreeWithDesign(t *testing.T) {
	const r26 = "abcdefghijklmnopqrstuvwxyz"
	tests := []struct {
		shape string // "id", "email" or "name"
		in    string
		want  bool
	}{
		{"id", "org_" + r26, true},
		{"id", "xyz_" + strings.Repeat("7", 26), true},
		{"id", "aaa_" + strings.Repeat("2", 26), true},
		{"id", "", false},
		{"id", "org_", false},
		{"id", "org_" + r26[:25], false},
		{"id", "org_" + r26 + "a", false},
		{"id", "or_" + r26 + "a", false},
		{"id", "orgg" + r26[:25] + "_", false},
		{"id", "Org_" + r26, false},
		{"id", "o1g_" + r26, false},
		{"id", "org-" + r26, false},
		{"id", "org_" + r26[:25] + "1", false},
		{"id", "org_" + r26[:25] + "8", false},
		{"id", "org_" + r26[:25] + "{", false},
		{"id", "org_" + r26[:25] + "`", false},
		{"id", "org_" + r26[:25] + "\x00", false},
		{"id", "org_" + r26[:25] + "\xff", false},
		{"id", "org_" + r26 + "\n", false},

		{"email", "a@b.c", true},
		{"email", "bob@example.com", true},
		{"email", ".!#$%&'*+/=?^_{|}~-@a-.-b", true},
		{"email", "a@0.0.0.0", true},
		{"email", "a@b--c.d-e", true},
		{"email", "a@b", false},
		{"email", "@b.c", false},
		{"email", "a@", false},
		{"email", "a@.b.c", false},
		{"email", "a@b.c.", false},
		{"email", "a@b..c", false},
		{"email", "a@b.c@d.e", false},
		{"email", "a@@b.c", false},
		{"email", "a@b_c.d", false},
		{"email", "A@b.c", false}, // the pattern sees the lowercased address
		{"email", "a@B.c", false},
		{"email", "a`b@c.d", false},
		{"email", "a(b@c.d", false},
		{"email", "a:b@c.d", false},
		{"email", "a b@c.d", false},
		{"email", "a@b.c\n", false},
		{"email", "a@b.c\x00", false},
		{"email", "\xc3\xa9@b.c", false},
		{"email", "a@b.\xc3\xa9", false},

		{"name", "A", true},
		{"name", "_", true},
		{"name", "z", true},
		{"name", "a.b_C9", true},
		{"name", "A.", true},
		{"name", "", false},
		{"name", "0", false},
		{"name", ".A", false},
		{"name", "A-B", false},
		{"name", "A B", false},
		{"name", "A\n", false},
		{"name", "A\x00", false},
		{"name", "A@", false},
		{"name", "[", false},
		{"name", "A`", false},
		{"name", "A{", false},
		{"name", "A/", false},
		{"name", "A:", false},
		{"name", "\xc3\x89", false},
		{"name", "A\xff", false},
	}
	for _, tt := range tests {
		var loop, re bool
		switch tt.shape {
		case "id":
			loop, re = ident.MatchID(tt.in), designIDPattern.MatchString(tt.in)
		case "email":
			loop, re = ident.MatchEmail(tt.in), designEmailPattern.MatchString(tt.in)
		case "name":
			loop, re = ident.MatchName(tt.in), designNamePattern.MatchString(tt.in)
		}
		if re != tt.want {
			t.Errorf("%s %q: the design pattern says %v, the table %v (fix the table)", tt.shape, tt.in, re, tt.want)
		}
		if loop != tt.want {
			t.Errorf("%s %q: the byte loop says %v, want %v", tt.shape, tt.in, loop, tt.want)
		}
	}
}

func TestShareID(t *testing.T) {
	for range 100 {
		id := ident.NewShareID()
		if err := ident.CheckShareID(id); err != nil {
			t.Fatalf("%q: %v", id, err)
		}
	}
	for _, bad := range []string{"", "abcdefghi", "abcdefghijk", "abcdefghi1", "ABCDEFGHIJ", "abcdefghi-", "abcdefgh\u00e9"} {
		if ident.CheckShareID(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
