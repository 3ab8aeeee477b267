package keys_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

const offlineService = "https://capy.example.com"

func offlineKey() keys.OfflineKey {
	var ek keys.EnvKey
	for i := range ek {
		ek[i] = byte(200 - i)
	}
	return keys.OfflineKey{Service: offlineService, Org: orgID, User: userID, Project: projectID, Env: envID,
		Epoch: 3, UnlockedAt: time.Unix(1_800_000_000, 0).UTC(), Grace: 8 * time.Hour, Key: ek}
}

func TestOfflineKeyRoundTrip(t *testing.T) {
	d := device(7)
	k := offlineKey()
	k.UnlockedAt = k.UnlockedAt.Add(300 * time.Millisecond) // kept in whole seconds
	data, err := d.SealOffline(k)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, k.Key[:]) || strings.Contains(string(data), base64.RawURLEncoding.EncodeToString(k.Key[:])) {
		t.Fatal("the kept file holds the key in the clear")
	}
	got, err := d.OpenOffline(data, offlineService, orgID, userID, projectID, envID)
	if err != nil {
		t.Fatal(err)
	}
	want := offlineKey()
	if got != want {
		t.Fatalf("opened %v, want %v", got, want)
	}
	if strings.Contains(got.String(), "c8c7") || strings.Contains(got.GoString(), "c8c7") {
		t.Fatal("String shows the key")
	}

	// The sealing key is HKDF(D, salt SHA-256(service "\n" org "\n" user),
	// "capy:offline-key"): checked by opening the box with it.
	_, _, _, box, err := keys.ParseOfflineHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	salt := sha256.Sum256([]byte(offlineService + "\n" + orgID + "\n" + userID))
	var sk [32]byte
	copy(sk[:], hkdfN(t, d[:], salt[:], "capy:offline-key", 32))
	aad := "capy:offline:" + strings.Join([]string{offlineService, orgID, userID, projectID, envID, "3", "1800000000", "28800"}, "\n")
	pt, err := wrap.Open(&sk, box, []byte(aad))
	if err != nil || !bytes.Equal(pt, want.Key[:]) {
		t.Fatalf("box does not open with the documented key and AAD: %v", err)
	}
}

// A kept key opens only for the service, org, member, project and
// environment it was kept for, with this device, and unedited.
func TestOfflineKeyRefusesAnotherOrEdited(t *testing.T) {
	d := device(7)
	data, err := d.SealOffline(offlineKey())
	if err != nil {
		t.Fatal(err)
	}
	open := func(d *keys.DeviceSecret, data []byte, service, org, user, prj, env string) error {
		_, err := d.OpenOffline(data, service, org, user, prj, env)
		return err
	}
	for name, err := range map[string]error{
		"another service":     open(d, data, "https://other.example.com", orgID, userID, projectID, envID),
		"another org":         open(d, data, offlineService, orgID2, userID, projectID, envID),
		"another member":      open(d, data, offlineService, orgID, userID2, projectID, envID),
		"another project":     open(d, data, offlineService, orgID, userID, project2, envID),
		"another environment": open(d, data, offlineService, orgID, userID, projectID, envID2),
		"another device":      open(device(8), data, offlineService, orgID, userID, projectID, envID),
	} {
		if !errors.Is(err, keys.ErrOfflineKey) {
			t.Errorf("%s: %v, want ErrOfflineKey", name, err)
		}
	}
	f := strings.Fields(string(data))
	edit := func(i int, v string) []byte {
		g := append([]string(nil), f...)
		g[i] = v
		return []byte(strings.Join(g, " ") + "\n")
	}
	for name, bad := range map[string][]byte{
		"later unlock time":   edit(3, "1800003600"),
		"longer grace":        edit(4, "604800"),
		"another epoch":       edit(2, "4"),
		"grace above 7 days":  edit(4, "604801"),
		"grace 0":             edit(4, "0"),
		"epoch 0":             edit(2, "0"),
		"leading zero":        edit(2, "03"),
		"flipped box":         edit(5, f[5][:10]+string(f[5][10]^1)+f[5][11:]),
		"short box":           edit(5, f[5][:20]),
		"other magic":         edit(0, "capy-ek"),
		"no newline":          data[:len(data)-1],
		"empty":               nil,
		"too long":            append(bytes.Repeat([]byte("x"), 300), '\n'),
		"extra field":         []byte(strings.TrimSuffix(string(data), "\n") + " x\n"),
		"negative unlock":     edit(3, "-5"),
		"unpadded but padded": edit(5, f[5]+"="),
	} {
		if err := open(d, bad, offlineService, orgID, userID, projectID, envID); !errors.Is(err, keys.ErrOfflineKey) {
			t.Errorf("%s: %v, want ErrOfflineKey", name, err)
		}
	}
}

func TestOfflineKeySealRefusesOutOfBounds(t *testing.T) {
	d := device(7)
	for name, mut := range map[string]func(*keys.OfflineKey){
		"grace above 7 days": func(k *keys.OfflineKey) { k.Grace = keys.MaxOfflineGrace + time.Second },
		"grace 0":            func(k *keys.OfflineKey) { k.Grace = 0 },
		"part of a second":   func(k *keys.OfflineKey) { k.Grace = 1500 * time.Millisecond },
		"epoch 0":            func(k *keys.OfflineKey) { k.Epoch = 0 },
		"no unlock time":     func(k *keys.OfflineKey) { k.UnlockedAt = time.Time{} },
		"bad env id":         func(k *keys.OfflineKey) { k.Env = "env_x" },
		"service with space": func(k *keys.OfflineKey) { k.Service = "https://a b" },
	} {
		k := offlineKey()
		mut(&k)
		if _, err := d.SealOffline(k); !errors.Is(err, keys.ErrOfflineKey) {
			t.Errorf("%s: %v, want ErrOfflineKey", name, err)
		}
	}
	k := offlineKey()
	k.Grace = keys.MaxOfflineGrace
	if _, err := d.SealOffline(k); err != nil {
		t.Fatalf("7 days: %v", err)
	}
}

func TestOfflineKeyUsableAt(t *testing.T) {
	k := offlineKey()
	for _, c := range []struct {
		at time.Duration
		ok bool
	}{
		{0, true}, {time.Hour, true}, {8*time.Hour - time.Second, true},
		{8 * time.Hour, false}, {9 * time.Hour, false}, {-time.Second, false},
	} {
		err := k.UsableAt(k.UnlockedAt.Add(c.at))
		if (err == nil) != c.ok {
			t.Errorf("at unlock%+v: %v, want usable %v", c.at, err, c.ok)
		}
	}
	// A grace above the bound (never sealed, but never trusted either) is
	// cut to 7 days.
	k.Grace = 30 * 24 * time.Hour
	if k.UsableAt(k.UnlockedAt.Add(keys.MaxOfflineGrace)) == nil {
		t.Fatal("a grace longer than 7 days was honoured")
	}
}

func FuzzOpenOffline(f *testing.F) {
	d := device(7)
	data, err := d.SealOffline(offlineKey())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("capy-offline 1 1 1 1 AA\n"))
	f.Add([]byte(""))
	f.Add(data[:len(data)-1])
	f.Fuzz(func(t *testing.T, in []byte) {
		k, err := d.OpenOffline(in, offlineService, orgID, userID, projectID, envID)
		if err != nil {
			if !errors.Is(err, keys.ErrOfflineKey) {
				t.Fatalf("error %v is not ErrOfflineKey", err)
			}
			return
		}
		// Only a file this device sealed for these ids opens, and it
		// opens as what was sealed (every field is authenticated).
		if k != offlineKey() {
			t.Fatalf("opened %q as %v", in, k)
		}
	})
}
