package member

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/workspace"
)

const (
	offProject = "prj_234567abcdefghijklmnopqrst"
	offEnvA    = "env_zyxwvutsrqponmlkjihgfedcba"
	offEnvB    = "env_abcdefghijklmnopqrstuvwxyz"
)

func offlineAccount(t *testing.T) *Account {
	t.Helper()
	home := &workspace.Home{Dir: filepath.Join(t.TempDir(), "home")}
	if err := os.MkdirAll(home.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	c, err := client.New("https://capy.example.com", client.WithHTTPClient(&http.Client{}))
	if err != nil {
		t.Fatal(err)
	}
	return &Account{Home: home, Client: c, Cred: workspace.Credential{UserID: user}}
}

// TestOfflineGraceBounded: the grace of a co-decrypt answer is cut to 7
// days; negative is off.
func TestOfflineGraceBounded(t *testing.T) {
	for in, want := range map[int64]time.Duration{
		-5: 0, 0: 0, 3600: time.Hour, 604800: keys.MaxOfflineGrace, 604801: keys.MaxOfflineGrace, 1 << 62: keys.MaxOfflineGrace,
	} {
		if got := offlineGrace(in); got != want {
			t.Errorf("offlineGrace(%d) = %v, want %v", in, got, want)
		}
	}
}

// TestKeepOffline: a kept key opens for its environment within the grace
// only; an answer with a shorter grace deletes the keys kept under a
// longer one, an answer saying off deletes them all; a key past its grace
// or kept by another clock is deleted when asked for.
func TestKeepOffline(t *testing.T) {
	a := offlineAccount(t)
	now := time.Now().Truncate(time.Second)
	var ek keys.EnvKey
	ek[0] = 42
	if err := a.KeepOffline(org, offProject, offEnvA, 2, ek, 8*time.Hour, now); err != nil {
		t.Fatal(err)
	}
	k, found, err := a.OfflineKey(org, offProject, offEnvA, now.Add(time.Hour))
	if err != nil || !found || k.Key != ek || k.Epoch != 2 || k.Grace != 8*time.Hour {
		t.Fatalf("kept key: %v %v %v", k, found, err)
	}
	if _, found, _ := a.OfflineKey(org, offProject, offEnvB, now); found {
		t.Fatal("a key for an environment never kept")
	}
	// Another environment unlocked under a shorter grace: A's longer
	// one goes.
	if err := a.KeepOffline(org, offProject, offEnvB, 1, ek, time.Hour, now); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := a.OfflineKey(org, offProject, offEnvA, now); found {
		t.Fatal("a key kept under a longer grace survived a shorter policy")
	}
	// Past the grace: refused and deleted.
	if _, found, err := a.OfflineKey(org, offProject, offEnvB, now.Add(time.Hour)); !found || err == nil {
		t.Fatalf("a key past its grace: found %v, err %v", found, err)
	}
	if _, found, _ := a.OfflineKey(org, offProject, offEnvB, now); found {
		t.Fatal("a key past its grace was not deleted")
	}
	// Off: everything of the org goes.
	if err := a.KeepOffline(org, offProject, offEnvA, 1, ek, time.Hour, now); err != nil {
		t.Fatal(err)
	}
	if err := a.KeepOffline(org, offProject, offEnvB, 1, ek, 0, now); err != nil {
		t.Fatal(err)
	}
	if envs, _ := a.org(org).OfflineKeys(user); len(envs) != 0 {
		t.Fatalf("off left %v", envs)
	}
	// A grace above the bound is kept as 7 days.
	if err := a.KeepOffline(org, offProject, offEnvA, 1, ek, 30*24*time.Hour, now); err != nil {
		t.Fatal(err)
	}
	if k, _, err := a.OfflineKey(org, offProject, offEnvA, now); err != nil || k.Grace != keys.MaxOfflineGrace {
		t.Fatalf("grace %v, %v", k.Grace, err)
	}
	// Logout's and a refusal's sweep deletes every kept key of the service.
	if err := a.Home.DeleteServiceOfflineKeys(a.Client.BaseURL()); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := a.OfflineKey(org, offProject, offEnvA, now); found {
		t.Fatal("the sweep left a kept key")
	}
}
