package workspace

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"testing"
)

const (
	offEnvA = "env_zyxwvutsrqponmlkjihgfedcba"
	offEnvB = "env_abcdefghijklmnopqrstuvwxyz"
)

// The keys kept for the offline grace live per service, org, member and
// environment, 0600; deleting one environment's, the org's, or (logout, a
// 401/403) the whole service's leaves every other service's alone.
func TestOfflineKeys(t *testing.T) {
	h := home(t)
	mine, other := h.Org(service, org), h.Org(evil, org)
	for _, o := range []Org{mine, other} {
		for _, e := range []string{offEnvA, offEnvB} {
			if err := o.WriteOfflineKey(user, e, []byte("kept "+e+"\n")); err != nil {
				t.Fatal(err)
			}
		}
	}
	p := scopedPath(t, h, "users", user, "offline", offEnvA)
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v", p, fi, err)
	}
	envs, err := mine.OfflineKeys(user)
	slices.Sort(envs)
	if err != nil || !slices.Equal(envs, []string{offEnvB, offEnvA}) {
		t.Fatalf("OfflineKeys %v, %v", envs, err)
	}
	if err := mine.DeleteOfflineKey(user, offEnvA); err != nil {
		t.Fatal(err)
	}
	if _, err := mine.ReadOfflineKey(user, offEnvA); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a deleted key reads: %v", err)
	}
	if err := h.DeleteServiceOfflineKeys(service); err != nil {
		t.Fatal(err)
	}
	if envs, _ := mine.OfflineKeys(user); len(envs) != 0 {
		t.Fatalf("the service sweep left %v", envs)
	}
	if envs, _ := other.OfflineKeys(user); len(envs) != 2 {
		t.Fatalf("the sweep of one service took another's: %v left", envs)
	}
	if err := other.DeleteOfflineKeys(user); err != nil {
		t.Fatal(err)
	}
	if envs, _ := other.OfflineKeys(user); len(envs) != 0 {
		t.Fatalf("DeleteOfflineKeys left %v", envs)
	}
	if _, err := mine.ReadOfflineKey(user, "env_../../x"); err == nil {
		t.Fatal("an environment id that climbs out was accepted")
	}
	if err := h.DeleteServiceOfflineKeys("https://Capy.Example.com/"); err == nil {
		t.Fatal("a service URL not in canonical form was accepted")
	}
}
