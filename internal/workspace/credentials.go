package workspace

import (
	"errors"
	"io/fs"
	"path/filepath"
)

// Credential is one signed-in session with one service.
type Credential struct {
	Token     string `json:"token"`
	Email     string `json:"email"`
	UserID    string `json:"user_id"`
	SessionID string `json:"session_id"`
}

// String never prints the token.
func (c Credential) String() string { return "session " + c.SessionID + " for " + c.Email }

// Credentials is ~/.capy/credentials: one session per service URL.
type Credentials struct {
	Version  int                   `json:"version"`
	Sessions map[string]Credential `json:"sessions"`
}

func (h *Home) credentialsPath() string { return filepath.Join(h.Dir, "credentials") }

// LoadCredentials reads the credentials file (empty when there is none).
func (h *Home) LoadCredentials() (*Credentials, error) {
	c := &Credentials{Version: 1, Sessions: map[string]Credential{}}
	err := readJSON(h.credentialsPath(), 1<<20, c)
	if errors.Is(err, fs.ErrNotExist) {
		return &Credentials{Version: 1, Sessions: map[string]Credential{}}, nil
	}
	if c.Sessions == nil {
		c.Sessions = map[string]Credential{}
	}
	return c, err
}

// SaveCredentials writes the credentials file (0600).
func (h *Home) SaveCredentials(c *Credentials) error {
	c.Version = 1
	return writeJSON(h.credentialsPath(), c)
}

// Credential returns the session for a canonical service URL.
func (h *Home) Credential(service string) (Credential, bool, error) {
	c, err := h.LoadCredentials()
	if err != nil {
		return Credential{}, false, err
	}
	cred, ok := c.Sessions[service]
	return cred, ok, nil
}

// SetCredential stores (or, with an empty token, forgets) the session for
// a service.
func (h *Home) SetCredential(service string, cred Credential) error {
	c, err := h.LoadCredentials()
	if err != nil {
		return err
	}
	if cred.Token == "" {
		delete(c.Sessions, service)
	} else {
		c.Sessions[service] = cred
	}
	return h.SaveCredentials(c)
}
