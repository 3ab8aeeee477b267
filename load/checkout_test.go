package load_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/internal/wrap"
)

const (
	testOrg     = "org_abcdefghijklmnopqrstuvwxyz"
	testProject = "prj_abcdefghijklmnopqrstuvwxyz"
	testEnv     = "env_zyxwvutsrqponmlkjihgfedcba"
)

// fixture is a linked checkout made offline, as `capy ci` leaves one: a
// project.json pinning one environment, a .env of snippets (and one
// contributor's sealed value), a .env.local over it, and the environment's
// key line (what CAPY_KEY holds).
type fixture struct {
	Dir     string
	KeyLine string
	Cipher  *keys.EnvCipher
}

// newFixture writes the checkout into dir.
func newFixture(dir string) (*fixture, error) {
	var ek keys.EnvKey
	copy(ek[:], bytes.Repeat([]byte{42}, len(ek)))
	c := ek.Cipher(testEnv, 1)
	repo := &workspace.Repo{Root: dir, Project: workspace.Project{Version: 1, Service: "https://capy.example.com",
		Org: testOrg, Project: testProject, DefaultEnvironment: "production",
		Environments: map[string]workspace.EnvPin{"production": {ID: testEnv, File: ".env", Epoch: 1,
			SigningKey: wrap.B64.EncodeToString(bytes.Repeat([]byte{7}, 32)), Recipient: c.AgeRecipient()}}}}
	if err := repo.SaveProject(); err != nil {
		return nil, err
	}
	var env, local strings.Builder
	for _, v := range []struct {
		name, value string
		literal     bool
	}{
		{"GREETING", "hello from capy", false},
		{"DB_PASSWORD", "pg-secret-1a2b", false},
		{"DATABASE_URL", "postgres://app:${DB_PASSWORD}@db/app", false},
		{"TEMPLATE", "keep ${AS} is", true},
		{"MULTI", "line one\nline \"two\"", false},
		{"OVERRIDDEN", "shared value", false},
	} {
		s, err := c.Seal(v.name, v.value, v.literal)
		if err != nil {
			return nil, err
		}
		env.WriteString(v.name + "=" + s + "\n")
	}
	sealed, err := keys.SealTo(c.AgeRecipient(), "from a contributor")
	if err != nil {
		return nil, err
	}
	env.WriteString("CONTRIBUTED=" + sealed + "\n")
	s, err := c.Seal("OVERRIDDEN", "my laptop's value", false)
	if err != nil {
		return nil, err
	}
	local.WriteString("OVERRIDDEN=" + s + "\nONLY_LOCAL=typed in plaintext\n")
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env.String()), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ".env.local"), []byte(local.String()), 0o600); err != nil {
		return nil, err
	}
	return &fixture{Dir: dir, KeyLine: keys.EnvKeyFile{EnvID: testEnv, Epoch: 1, Key: ek}.Encode(), Cipher: c}, nil
}
