package ident_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/ident"
)

func FuzzCanonicalEmail(f *testing.F) {
	for _, s := range []string{
		"bob@example.com", "  Bob@Example.COM ", "bob+tag@x.io", "a@b", "a:b@x.io",
		"bøb@x.io", "o'neil@sub.x.io", strings.Repeat("a", 242) + "@example.com", "",
		"bob@\u212aelvin.io",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ident.CanonicalEmail(in)
		if err != nil {
			return
		}
		if len(got) > ident.MaxEmailLen {
			t.Fatalf("CanonicalEmail(%q) = %q, %d bytes", in, got, len(got))
		}
		if !designEmailPattern.MatchString(got) {
			t.Fatalf("CanonicalEmail(%q) = %q, does not match the design pattern", in, got)
		}
		// Nothing but trimming spaces and folding A-Z may happen.
		if want := strings.ToLower(strings.Trim(in, " ")); got != want {
			t.Fatalf("CanonicalEmail(%q) = %q, want %q", in, got, want)
		}
		again, err := ident.CanonicalEmail(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: CanonicalEmail(%q) = %q, %v", got, again, err)
		}
	})
}

func FuzzCanonicalURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com", "HTTPS://Example.COM:443/", "http://[::1]:8080/",
		"https://[2001:DB8::1]/capy/", "http://localhost:80", "https://x.io/a%2Fb/",
		"https://user@x.io", "https://x.io?q", "https://x.io/%7Efoo", "http://127.0.0.1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ident.CanonicalURL(in)
		if err != nil {
			return
		}
		again, err := ident.CanonicalURL(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: CanonicalURL(%q) = %q; CanonicalURL(that) = %q, %v", in, got, again, err)
		}
		if !strings.HasPrefix(got, "https://") && !strings.HasPrefix(got, "http://") {
			t.Fatalf("CanonicalURL(%q) = %q: bad scheme", in, got)
		}
		if strings.HasSuffix(got, "/") || strings.ContainsAny(got, "?#@ \t\r\n") {
			t.Fatalf("CanonicalURL(%q) = %q: not canonical", in, got)
		}
		// The service check agrees with the canonical form it returns.
		if s, err := ident.CheckServiceURL(in); err == nil && s != got {
			t.Fatalf("CheckServiceURL(%q) = %q, CanonicalURL = %q", in, s, got)
		}
	})
}

// FuzzMatchersAgreeWithDesign is differential: the byte loops that check
// ids, e-mail addresses and variable names must accept exactly what the
// regular expressions of DESIGN §2.0 (ident_test.go) match, and CheckID,
// IsID, CanonicalEmail and CheckName must behave as if written with them.
func FuzzMatchersAgreeWithDesign(f *testing.F) {
	for _, s := range []string{
		"org_abcdefghijklmnopqrstuvwxyz", "prj_234567234567234567234567ab", "org_abcdefghijklmnopqrstuvwxy1",
		"bob@example.com", "a@b", "a@b..c", "a@b.c.", " Bob@X.IO ", "a@b.c@d.e",
		"DATABASE_URL", "db.host", "_9", "9A", ".A", "A-B", strings.Repeat("A", 257), "",
		"\xff", "A\x00", "org_\xc3\xa9bcdefghijklmnopqrstuvwxy",
	} {
		f.Add(s)
	}
	kinds := append(allKinds, ident.Session, ident.Kind(""), ident.Kind("or"), ident.Kind("org_"))
	f.Fuzz(func(t *testing.T, s string) {
		id := designIDPattern.MatchString(s)
		if got := ident.MatchID(s); got != id {
			t.Fatalf("id %q: loop %v, pattern %v", s, got, id)
		}
		if got := ident.IsID(s); got != id {
			t.Fatalf("IsID(%q) = %v, pattern %v", s, got, id)
		}
		for _, k := range kinds {
			want := id && strings.HasPrefix(s, string(k)+"_")
			if err := ident.CheckID(k, s); (err == nil) != want || (err != nil && !errors.Is(err, ident.ErrBadID)) {
				t.Fatalf("CheckID(%q, %q) = %v, want ok=%v", k, s, err, want)
			}
		}

		if got, want := ident.MatchEmail(s), designEmailPattern.MatchString(s); got != want {
			t.Fatalf("e-mail %q: loop %v, pattern %v", s, got, want)
		}
		got, err := ident.CanonicalEmail(s)
		want, ok := referenceCanonicalEmail(s)
		if (err == nil) != ok || got != want || (err != nil && !errors.Is(err, ident.ErrBadEmail)) {
			t.Fatalf("CanonicalEmail(%q) = %q, %v; the pattern gives %q, %v", s, got, err, want, ok)
		}

		name := designNamePattern.MatchString(s)
		if got := ident.MatchName(s); got != name {
			t.Fatalf("name %q: loop %v, pattern %v", s, got, name)
		}
		wantName := name && len(s) <= ident.MaxNameLen
		if err := ident.CheckName(s); (err == nil) != wantName || (err != nil && !errors.Is(err, ident.ErrBadName)) {
			t.Fatalf("CheckName(%q) = %v, want ok=%v", s, err, wantName)
		}
	})
}

// referenceCanonicalEmail is CanonicalEmail as specified: trim ASCII
// spaces, refuse non-ASCII, fold A-Z, at most MaxEmailLen bytes, then the
// design pattern.
func referenceCanonicalEmail(s string) (string, bool) {
	s = strings.Trim(s, " ")
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "", false
		}
	}
	s = strings.ToLower(s) // ASCII only here, so the same as folding A-Z
	if len(s) > ident.MaxEmailLen || !designEmailPattern.MatchString(s) {
		return "", false
	}
	return s, true
}
