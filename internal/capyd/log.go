package capyd

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// parseLevel reads --log-level.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return 0, &configError{msg: fmt.Sprintf("--log-level (CAPYD_LOG_LEVEL): %q is not debug, info, warn or error", s)}
	}
	return l, nil
}

// newLogger returns the service logger: text or JSON on w, at the level
// asked for. What it must never carry (tokens, codes, bodies, e-mail
// addresses, DSN passwords, key material) is kept out by its callers;
// docs/server.md lists it.
func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	l, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
