package ident_test

import (
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
