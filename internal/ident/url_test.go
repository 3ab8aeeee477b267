package ident_test

import (
	"errors"
	"testing"

	"github.com/capy-oss/capy/internal/ident"
)

func TestCanonicalURL(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = error
	}{
		{"https://example.com", "https://example.com"},
		{"HTTPS://Example.COM", "https://example.com"},
		{"https://example.com/", "https://example.com"},
		{"https://example.com///", "https://example.com"},
		{"https://example.com:443", "https://example.com"},
		{"https://example.com:443/", "https://example.com"},
		{"https://example.com:8443/", "https://example.com:8443"},
		{"https://example.com:80", "https://example.com:80"}, // 80 is only http's default
		{"http://localhost:80/", "http://localhost"},
		{"http://localhost:443", "http://localhost:443"},
		{"http://LOCALHOST:8080", "http://localhost:8080"},
		{"https://example.com/capy/", "https://example.com/capy"},
		{"https://example.com/Capy/V1", "https://example.com/Capy/V1"}, // path case is kept
		{"  https://example.com/capy  ", "https://example.com/capy"},
		{"https://example.com:", "https://example.com"},

		// IPv6 literals keep their brackets, lose the default port.
		{"http://[::1]:8080/", "http://[::1]:8080"},
		{"http://[::1]", "http://[::1]"},
		{"https://[2001:DB8::1]", "https://[2001:db8::1]"},
		{"https://[2001:db8::1]:443/", "https://[2001:db8::1]"},
		{"https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"},
		{"https://192.0.2.1:443", "https://192.0.2.1"},

		// Refused.
		{"https://example.com?x=1", ""},
		{"https://example.com/?x", ""},
		{"https://example.com/#frag", ""},
		{"https://example.com#x", ""},
		{"https://user@example.com", ""},
		{"https://user:pw@example.com", ""},
		{"https://@example.com", ""},
		{"ftp://example.com", ""},
		{"file:///etc/passwd", ""},
		{"javascript:alert(1)", ""},
		{"https:example.com", ""},
		{"example.com", ""},
		{"//example.com", ""},
		{"https://", ""},
		{"https:///path", ""},
		{"", ""},
		{"https://exa mple.com", ""},
		{"https://example.com\n", "https://example.com"}, // surrounding white space is trimmed
		{"https://exa\nmple.com", ""},
	}
	for _, tt := range tests {
		got, err := ident.CanonicalURL(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("CanonicalURL(%q) = %q, want error", tt.in, got)
			} else if !errors.Is(err, ident.ErrBadURL) {
				t.Errorf("CanonicalURL(%q) error %v does not match ErrBadURL", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CanonicalURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if again, err := ident.CanonicalURL(got); err != nil || again != got {
			t.Errorf("CanonicalURL not idempotent on %q: %q, %v", got, again, err)
		}
	}
}

// Hosts are shown to a person before a code is trusted, and compared
// byte for byte; anything that is not a plain ASCII host name or IP literal
// must be refused rather than passed on in some decoded form.
func TestCanonicalURLRefusesOddHosts(t *testing.T) {
	for _, in := range []string{
		"https://%C3%A9xample.com", // non-ASCII host (homoglyph risk)
		"https://éxample.com",
		"https://a%25b.com",
		"http://[fe80::1%25eth0]:8080", // zoned IPv6
		"https://exa%2Fmple.com",
	} {
		if got, err := ident.CanonicalURL(in); err == nil {
			t.Errorf("CanonicalURL(%q) = %q, want error", in, got)
		}
	}
}

func TestCheckServiceURL(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = refused
	}{
		{"https://example.com", "https://example.com"},
		{"https://capy.example.com:8443/api/", "https://capy.example.com:8443/api"},
		{"http://127.0.0.1", "http://127.0.0.1"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080"},
		{"http://127.5.5.5:9", "http://127.5.5.5:9"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"http://localhost", "http://localhost"},
		{"HTTP://LocalHost:80/", "http://localhost"},
		{"https://localhost", "https://localhost"},

		{"http://example.com", ""},
		{"http://example.com:8080", ""},
		{"http://10.0.0.1", ""},
		{"http://0.0.0.0", ""},
		{"http://[::]", ""},
		{"http://128.0.0.1", ""},
		{"http://localhost.example.com", ""},
		{"http://127.0.0.1.nip.io", ""},
		{"http://mylocalhost", ""},
		{"http://[::2]", ""},
		{"ftp://localhost", ""},
		{"https://example.com?x", ""},
	}
	for _, tt := range tests {
		got, err := ident.CheckServiceURL(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("CheckServiceURL(%q) = %q, want refusal", tt.in, got)
			} else if !errors.Is(err, ident.ErrBadURL) {
				t.Errorf("CheckServiceURL(%q) error %v does not match ErrBadURL", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CheckServiceURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestIsLoopbackURL(t *testing.T) {
	for in, want := range map[string]bool{
		"http://localhost":         true,
		"http://127.0.0.1":         true,
		"http://127.255.255.254":   true,
		"http://[::1]:1":           true,
		"http://example.com":       false,
		"http://[::ffff:10.0.0.1]": false,
		"http://192.168.1.1":       false,
		"not a url %":              false,
	} {
		if got := ident.IsLoopbackURL(in); got != want {
			t.Errorf("IsLoopbackURL(%q) = %v, want %v", in, got, want)
		}
	}
}
