package workspace

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/wrap"
)

// Dir is the name of the per-repository directory.
const Dir = ".capy"

// ErrNoProject means no .capy/project.json was found here or above.
var ErrNoProject = errors.New("no capy project here (no .capy/project.json in this directory or above)")

// EnvPin is one environment in project.json.
type EnvPin struct {
	ID         string `json:"id"`
	File       string `json:"file"`
	Epoch      uint32 `json:"epoch"`
	SigningKey string `json:"signing_key"` // b64u Ed25519 public key
	// Recipient is the environment's age post-quantum recipient at Epoch
	// (age1pq1…), what contributors encrypt to (docs/protocol.md §14).
	// Projects from before it have none until a member's next unlock.
	Recipient string `json:"recipient,omitempty"`
	// Local is the environment's personal layer (default File + ".local"):
	// encrypted like File, overlaying it in run, get, export and status,
	// and never pushed.
	Local string `json:"local,omitempty"`
}

// LocalFile is the environment's personal layer: Local, else File with
// ".local" appended (.env.local, .env.production.local), as dotenv-flow
// and Next.js name it.
func (e EnvPin) LocalFile() string {
	if e.Local != "" {
		return e.Local
	}
	return e.File + ".local"
}

// PublicKey decodes the pinned signing key.
func (e EnvPin) PublicKey() (ed25519.PublicKey, error) {
	k, err := wrap.DecodeB64(e.SigningKey)
	if err != nil || len(k) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("pinned signing key of %s is malformed", e.ID)
	}
	return ed25519.PublicKey(k), nil
}

// Project is .capy/project.json, committed with the repository.
type Project struct {
	Version            int               `json:"version"`
	Service            string            `json:"service"`
	Org                string            `json:"org"`
	Project            string            `json:"project"`
	DefaultEnvironment string            `json:"default_environment"`
	Environments       map[string]EnvPin `json:"environments"`
}

// EnvState is one environment's local sync state.
type EnvState struct {
	Epoch       uint32 `json:"epoch"`
	BaseVersion uint64 `json:"base_version"`
	BaseID      string `json:"base_id"`
	SeenVersion uint64 `json:"seen_version"`
	SeenID      string `json:"seen_id"`
}

// State is .capy/state.json, local to this checkout.
type State struct {
	Version      int                 `json:"version"`
	Current      string              `json:"current"`
	Environments map[string]EnvState `json:"environments"` // by env id
}

// Repo is a repository linked to a capy project.
type Repo struct {
	Root    string // directory holding .capy
	Project Project
}

// FindRepo looks for .capy/project.json in dir and its parents. A .capy
// that is a directory holding project.json marks the repository root. A
// .capy that is a symbolic link is refused (ErrUnsafePath), not skipped:
// followed, it would make capy use another checkout's project and state
// (and key file), and walking on past it could pick up a parent
// repository's instead. A .capy that is not a directory, or a directory
// without project.json, is not a root: the walk goes on upwards.
// project.json itself is read with Repo.ReadFile's checks (no link, a
// regular file, at most MaxProjectFile bytes).
func FindRepo(dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if fi, err := os.Lstat(filepath.Join(d, Dir)); err == nil {
			if fi.Mode()&fs.ModeSymlink != 0 {
				return nil, unsafeLink(filepath.Join(d, Dir), true)
			}
			if fi.IsDir() {
				if _, err := os.Lstat(filepath.Join(d, projectRel)); err == nil {
					r := &Repo{Root: d}
					return r, r.loadProject()
				}
			}
		}
		if filepath.Dir(d) == d {
			return nil, ErrNoProject
		}
	}
}

func (r *Repo) path(name string) string { return filepath.Join(r.Root, Dir, name) }

// The checkout files of .capy, relative to the repository root.
const (
	projectRel = Dir + "/project.json"
	stateRel   = Dir + "/state.json"
)

func (r *Repo) loadProject() error {
	data, err := r.ReadFile(projectRel, MaxProjectFile)
	if err != nil {
		return err
	}
	if p, ok := readProjectFast(data); ok {
		r.Project = p
	} else if err := decodeProject(data, &r.Project); err != nil {
		return err
	}
	return r.Project.Validate()
}

// decodeProject is the definition of project.json's format, which
// readProjectFast's plain form is a part of.
func decodeProject(data []byte, p *Project) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return fmt.Errorf(".capy/project.json is malformed: %w", err)
	}
	return nil
}

// Validate checks every id, the service URL, names and file paths, so a
// hostile project.json cannot steer requests or writes elsewhere.
func (p *Project) Validate() error {
	if p.Version != 1 {
		return fmt.Errorf(".capy/project.json has version %d; this capy understands 1", p.Version)
	}
	if _, err := ident.CheckServiceURL(p.Service); err != nil {
		return fmt.Errorf(".capy/project.json: service: %w", err)
	}
	if err := ident.CheckID(ident.Org, p.Org); err != nil {
		return fmt.Errorf(".capy/project.json: org: %w", err)
	}
	if err := ident.CheckID(ident.Project, p.Project); err != nil {
		return fmt.Errorf(".capy/project.json: project: %w", err)
	}
	if _, ok := p.Environments[p.DefaultEnvironment]; !ok {
		return fmt.Errorf(".capy/project.json: default environment %q is not listed", p.DefaultEnvironment)
	}
	for name, e := range p.Environments {
		if !ValidEnvName(name) {
			return fmt.Errorf(".capy/project.json: environment name %q is invalid", name)
		}
		if err := ident.CheckID(ident.Env, e.ID); err != nil {
			return fmt.Errorf(".capy/project.json: environment %s: %w", name, err)
		}
		if e.Epoch == 0 {
			return fmt.Errorf(".capy/project.json: environment %s: epoch 0", name)
		}
		if _, err := e.PublicKey(); err != nil {
			return fmt.Errorf(".capy/project.json: %w", err)
		}
		if err := CheckEnvFilePath(e.File); err != nil {
			return fmt.Errorf(".capy/project.json: environment %s: %w", name, err)
		}
		if e.Local != "" {
			if err := CheckEnvFilePath(e.Local); err != nil {
				return fmt.Errorf(".capy/project.json: environment %s: local: %w", name, err)
			}
		}
	}
	// A personal layer that is another environment's file would be pushed
	// there, and one shared by two environments could not be read by both.
	owner := map[string]string{}
	for name, e := range p.Environments {
		owner[e.File] = name
	}
	for name, e := range p.Environments {
		if other, ok := owner[e.LocalFile()]; ok {
			return fmt.Errorf(".capy/project.json: environment %s: its local file %s is the file of environment %s (set \"local\" to another name)", name, e.LocalFile(), other)
		}
	}
	locals := map[string]string{}
	for name, e := range p.Environments {
		if other, ok := locals[e.LocalFile()]; ok {
			return fmt.Errorf(".capy/project.json: environments %s and %s share the local file %s", other, name, e.LocalFile())
		}
		locals[e.LocalFile()] = name
	}
	return nil
}

// ValidEnvName reports whether s is a valid environment (slug) name.
func ValidEnvName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (i > 0 && (c == '-' || c == '_'))
		if !ok {
			return false
		}
	}
	return true
}

// CheckEnvFilePath accepts a relative, clean path inside the repository.
func CheckEnvFilePath(p string) error {
	if p == "" || filepath.IsAbs(p) || filepath.Clean(p) != p || p == "." || strings.HasPrefix(p, "..") || strings.HasPrefix(p, Dir+"/") {
		return fmt.Errorf("env file %q must be a clean relative path inside the repository", p)
	}
	return nil
}

// SaveProject writes project.json (committed, so mode 0644).
func (r *Repo) SaveProject() error {
	if err := r.Project.Validate(); err != nil {
		return err
	}
	data, err := encodeJSON(projectRel, r.Project)
	if err != nil {
		return err
	}
	// A new project.json is 0644: it is committed and not secret
	// (envfile would make it 0600).
	return r.writeFile(projectRel, data, nil, 0o644)
}

// EnvNames returns the project's environment names, sorted.
func (r *Repo) EnvNames() []string {
	names := make([]string, 0, len(r.Project.Environments))
	for n := range r.Project.Environments {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LoadState reads state.json (empty when there is none).
func (r *Repo) LoadState() (*State, error) {
	s := &State{}
	data, err := r.ReadFile(stateRel, MaxStateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Version: 1, Environments: map[string]EnvState{}}, nil
	}
	if err != nil {
		return nil, err
	}
	if fast, ok := readStateFast(data); ok {
		*s = fast
	} else if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf(".capy/state.json is corrupt (delete it to start over): %w", err)
	}
	if s.Environments == nil {
		s.Environments = map[string]EnvState{}
	}
	return s, nil
}

// SaveState writes state.json atomically.
func (r *Repo) SaveState(s *State) error {
	_, err := r.SaveStateDigest(s)
	return err
}

// SaveStateDigest is SaveState, and returns the digest (FileDigest) of
// the bytes it wrote, for a record of what capy wrote without reading the
// file back.
func (r *Repo) SaveStateDigest(s *State) (string, error) {
	s.Version = 1
	data, err := encodeJSON(stateRel, s)
	if err != nil {
		return "", err
	}
	if err := r.WriteFile(stateRel, data, nil); err != nil {
		return "", err
	}
	return FileDigest(data), nil
}

// capyBlockEnd is the index of the line after the "# capy" block (the
// comment and the non-blank lines that follow it), or -1 without one.
func capyBlockEnd(lines []string) int {
	for i, l := range lines {
		if strings.TrimSpace(l) != "# capy" {
			continue
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) != "" {
			j++
		}
		return j
	}
	return -1
}

// EnsureIgnored appends lines missing from an ignore file of the checkout
// (.gitignore, .dockerignore; rel is relative to the repository root),
// creating it (0644) if needed. It is read and written with the checks of
// ReadFile and WriteFile.
func (r *Repo) EnsureIgnored(rel string, lines []string) error {
	data, err := r.ReadFile(rel, MaxIgnoreFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	lines0 := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	have := map[string]bool{}
	for _, l := range lines0 {
		have[strings.TrimSpace(l)] = true
	}
	var missing []string
	for _, l := range lines {
		if !have[l] {
			missing = append(missing, l)
			have[l] = true
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var out string
	if block := capyBlockEnd(lines0); block >= 0 {
		// An earlier run wrote a "# capy" block: the new lines join it
		// (a second block for every environment was clutter).
		out = strings.Join(lines0[:block], "\n") + "\n" + strings.Join(missing, "\n") + "\n" + strings.Join(lines0[block:], "\n")
		out = strings.TrimSuffix(out, "\n") + "\n"
		if strings.Contains(string(data), "\r\n") {
			out = strings.ReplaceAll(out, "\n", "\r\n")
		}
	} else {
		out = string(data)
		if out != "" && !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		out += "# capy\n" + strings.Join(missing, "\n") + "\n"
	}
	return r.writeFile(rel, []byte(out), nil, 0o644)
}

// CurrentEnv is the environment a command reads when none is named: the
// checkout's current one (state.json), else the project's default. `capy
// run` and the loader (package load) choose alike.
func (r *Repo) CurrentEnv(st *State) string {
	if st != nil && st.Current != "" {
		return st.Current
	}
	return r.Project.DefaultEnvironment
}
