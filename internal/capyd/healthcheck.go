package capyd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/urfave/cli/v2"
)

// healthcheckTimeout bounds `capyd healthcheck`'s one request.
const healthcheckTimeout = 5 * time.Second

// healthcheckCommand is `capyd healthcheck`: the container image's
// HEALTHCHECK (it has no curl). It reads the same settings as serve and
// asks the running capyd's /healthz: on the ops listener when there is
// one (plain HTTP, loopback by default), otherwise on the public one.
func healthcheckCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "healthcheck",
		Usage: "ask the capyd running with these settings whether it serves (exit 0) or not (exit 1)",
		Description: "GET /healthz on --ops-listen, or on --listen when the ops listener is off (HTTPS\n" +
			"with --tls-cert, the certificate checked for the --public-url host). An address\n" +
			"0.0.0.0 or :: is asked on loopback. For a container HEALTHCHECK or a probe.",
		Flags: flags("healthcheck"),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError{errors.New("healthcheck takes no arguments")}
			}
			cfg, err := loadConfig(c, "healthcheck", os.Getenv)
			if err != nil {
				return err
			}
			target, client, err := healthcheckTarget(cfg)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), healthcheckTimeout)
			defer cancel()
			if err := probe(ctx, client, target); err != nil {
				return &refusal{msg: fmt.Sprintf("%s: %v", target, err),
					hints: []string{"is capyd running with these settings (--listen, --ops-listen, or their CAPYD_ variables)?"}}
			}
			fmt.Fprintf(e.stdout, "capyd: healthy (%s)\n", target)
			return nil
		},
	}
}

// healthcheckTarget is the /healthz URL to ask, and the client to ask it
// with.
func healthcheckTarget(cfg Config) (string, *http.Client, error) {
	client := &http.Client{
		Timeout:       healthcheckTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
	if cfg.OpsListen != "" {
		host, err := dialable("--ops-listen (CAPYD_OPS_LISTEN)", cfg.OpsListen)
		if err != nil {
			return "", nil, err
		}
		return "http://" + host + "/healthz", client, nil
	}
	host, err := dialable("--listen (CAPYD_LISTEN)", cfg.Listen)
	if err != nil {
		return "", nil, err
	}
	if cfg.TLSCert == "" {
		return "http://" + host + "/healthz", client, nil
	}
	// HTTPS on the public listener: the certificate is checked, for the
	// name clients use, against the system's roots and the certificate
	// file itself (so a self-signed one passes too).
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if err := addPEMCerts(roots, cfg.TLSCert); err != nil {
		return "", nil, err
	}
	name, _, _ := net.SplitHostPort(host)
	if cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err == nil && u.Hostname() != "" {
			name = u.Hostname()
		}
	}
	client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12}
	return "https://" + host + "/healthz", client, nil
}

// dialable turns a listen address into one to connect to: a wildcard host
// (0.0.0.0, ::, empty) becomes loopback. Port 0 cannot be asked.
func dialable(what, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", &configError{msg: fmt.Sprintf("%s: %q is not host:port", what, addr)}
	}
	if port == "0" {
		return "", &configError{msg: fmt.Sprintf("%s: port 0 picks a free port at start; healthcheck cannot know which", what),
			hints: []string{"give the port capyd listens on"}}
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// addPEMCerts adds every certificate of a PEM file to pool.
func addPEMCerts(pool *x509.CertPool, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--tls-cert: %w", err)
	}
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return fmt.Errorf("--tls-cert %s: %w", path, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return &configError{msg: fmt.Sprintf("--tls-cert %s holds no PEM certificate", path)}
	}
	return nil
}

// probe asks target and wants 200 {"status":"ok",…}.
func probe(ctx context.Context, client *http.Client, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered %s", resp.Status)
	}
	var h struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(body, &h) != nil || h.Status != "ok" {
		return errors.New("answered 200 without {\"status\":\"ok\"}: is this capyd?")
	}
	return nil
}
