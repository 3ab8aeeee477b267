package ident

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// ErrBadURL is returned for service URLs that cannot be canonicalised.
var ErrBadURL = errors.New("malformed service URL")

// CanonicalURL returns the canonical form of a service URL: scheme and host
// lowercased, the default port dropped, no trailing slash, no query, no
// fragment, no user info. Codes carry this form and clients compare it, so
// two spellings of one service compare equal.
func CanonicalURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", fmt.Errorf("%w: scheme must be https (or http on loopback)", ErrBadURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("%w: no user info, query or fragment allowed", ErrBadURL)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", fmt.Errorf("%w: no host", ErrBadURL)
	}
	if !validHost(host) {
		return "", fmt.Errorf("%w: host must be an ASCII name or an IP address", ErrBadURL)
	}
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	hostport := host
	if strings.Contains(host, ":") { // IPv6 literal
		hostport = "[" + host + "]"
	}
	if port != "" {
		hostport += ":" + port
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	return scheme + "://" + hostport + path, nil
}

// validHost accepts a lowercased ASCII host name or IPv4 address
// (letters, digits, '.', '-', '_') or an IPv6 literal without a zone. The
// host is shown to a person before a code is trusted and compared byte for
// byte, so percent-decoded bytes, non-ASCII (homoglyph) names and zones,
// which also do not survive a second CanonicalURL, are refused.
func validHost(h string) bool {
	if strings.Contains(h, ":") {
		ip, err := netip.ParseAddr(h)
		return err == nil && ip.Is6() && ip.Zone() == ""
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// IsLoopbackURL reports whether a canonical URL names a loopback host
// (localhost, 127.0.0.0/8 or ::1), the only place plain http is allowed.
func IsLoopbackURL(canonical string) bool {
	u, err := url.Parse(canonical)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsLoopback() // ::ffff:127.0.0.1 too
}

// CheckServiceURL canonicalises raw and refuses plain http except on loopback.
func CheckServiceURL(raw string) (string, error) {
	c, err := CanonicalURL(raw)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(c, "http://") && !IsLoopbackURL(c) {
		return "", fmt.Errorf("%w: plain http is only allowed on loopback; use https", ErrBadURL)
	}
	return c, nil
}
