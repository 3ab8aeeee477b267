package keys

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/wrap"
)

// MaxOfflineGrace bounds the offline grace on the client, whatever the
// service answers (7 days, the bound capyd enforces too): a service that
// lies cannot stretch how long a machine reads without it.
const MaxOfflineGrace = 7 * 24 * time.Hour

// ErrOfflineKey is a kept environment key that cannot be used: malformed,
// for another service, org, member, project, environment or epoch, or
// tampered with. The caller deletes it.
var ErrOfflineKey = errors.New("the environment key kept for offline use is malformed or not this one")

// OfflineKey is one environment key a member's machine keeps while its
// org's offline grace is on (docs/decisions.md #88): EK of one environment
// at one epoch, the time of the unlock that produced it (this machine's
// clock) and the grace the service answered then. It is kept sealed under
// a key derived from the device secret, with every field but the key in
// the associated data, so a file moved from another org, environment or
// epoch, or edited (a later time, a longer grace), does not open.
type OfflineKey struct {
	Service, Org, User, Project, Env string
	Epoch                            uint32
	UnlockedAt                       time.Time // whole seconds, UTC
	Grace                            time.Duration
	Key                              EnvKey
}

// String redacts the key.
func (k OfflineKey) String() string {
	return fmt.Sprintf("offline key %s %d unlocked %s grace %s %s", k.Env, k.Epoch, k.UnlockedAt.Format(time.RFC3339), k.Grace, redacted)
}

// GoString redacts the key.
func (k OfflineKey) GoString() string { return k.String() }

// ExpiresAt is when the grace of this key ends.
func (k OfflineKey) ExpiresAt() time.Time { return k.UnlockedAt.Add(min(k.Grace, MaxOfflineGrace)) }

// UsableAt says whether the key may be read with at now: within the grace
// after the unlock, and not before the unlock (a clock set back would
// otherwise restart the grace).
func (k OfflineKey) UsableAt(now time.Time) error {
	switch {
	case now.Before(k.UnlockedAt):
		return fmt.Errorf("the environment key kept for offline use was unlocked at %s, after this machine's clock (%s)",
			k.UnlockedAt.Local().Format(time.DateTime), now.Local().Format(time.DateTime))
	case !now.Before(k.ExpiresAt()):
		return fmt.Errorf("the offline grace of the environment key kept at %s (%s) ended at %s",
			k.UnlockedAt.Local().Format(time.DateTime), k.Grace, k.ExpiresAt().Local().Format(time.DateTime))
	}
	return nil
}

// check refuses a key whose fields cannot be what an unlock kept.
func (k OfflineKey) check() error {
	switch {
	case k.Service == "" || strings.ContainsAny(k.Service, "\n "):
		return fmt.Errorf("%w: service URL", ErrOfflineKey)
	case ident.CheckID(ident.Org, k.Org) != nil, ident.CheckID(ident.User, k.User) != nil,
		ident.CheckID(ident.Project, k.Project) != nil, ident.CheckID(ident.Env, k.Env) != nil:
		return fmt.Errorf("%w: ids", ErrOfflineKey)
	case k.Epoch == 0:
		return fmt.Errorf("%w: epoch 0", ErrOfflineKey)
	case k.UnlockedAt.Unix() <= 0 || !k.UnlockedAt.Equal(time.Unix(k.UnlockedAt.Unix(), 0)):
		return fmt.Errorf("%w: unlock time", ErrOfflineKey)
	case k.Grace < time.Second || k.Grace > MaxOfflineGrace || k.Grace%time.Second != 0:
		return fmt.Errorf("%w: grace %s", ErrOfflineKey, k.Grace)
	}
	return nil
}

// aad binds every field of the file but the key.
func (k OfflineKey) aad() []byte {
	return []byte(aadOffline + strings.Join([]string{k.Service, k.Org, k.User, k.Project, k.Env,
		strconv.FormatUint(uint64(k.Epoch), 10), strconv.FormatInt(k.UnlockedAt.Unix(), 10),
		strconv.FormatInt(int64(k.Grace/time.Second), 10)}, "\n"))
}

// offlineSealKey derives HKDF(D, salt SHA-256(service "\n" org "\n" user),
// "capy:offline-key"): only this machine's device secret opens what it
// kept, and the service, which knows the ids, does not.
func (d *DeviceSecret) offlineSealKey(service, orgID, userID string) [Size]byte {
	salt := sha256.Sum256([]byte(service + "\n" + orgID + "\n" + userID))
	return wrap.DeriveKey(d[:], salt[:], infoOfflineKey)
}

// SealOffline returns the file that keeps k on this machine:
// "capy-offline 1 <epoch> <unlocked unix> <grace seconds> <b64url box>\n".
// UnlockedAt is truncated to whole seconds.
func (d *DeviceSecret) SealOffline(k OfflineKey) ([]byte, error) {
	k.UnlockedAt = time.Unix(k.UnlockedAt.Unix(), 0).UTC()
	if err := k.check(); err != nil {
		return nil, err
	}
	sk := d.offlineSealKey(k.Service, k.Org, k.User)
	box, err := sealKey(&sk, k.Key[:], string(k.aad()))
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "%s %d %d %d %s\n", offlineMagic, k.Epoch, k.UnlockedAt.Unix(), int64(k.Grace/time.Second),
		base64.RawURLEncoding.EncodeToString(box)), nil
}

// maxOfflineFile bounds a kept key's file.
const maxOfflineFile = 256

// ParseOfflineHeader reads the epoch, unlock time and grace of a kept key
// without opening it (they are authenticated only by OpenOffline).
func ParseOfflineHeader(data []byte) (epoch uint32, unlockedAt time.Time, grace time.Duration, box []byte, err error) {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrOfflineKey, what) }
	if len(data) > maxOfflineFile {
		return 0, time.Time{}, 0, nil, bad("too long")
	}
	line, ok := strings.CutSuffix(string(data), "\n")
	if !ok {
		return 0, time.Time{}, 0, nil, bad("no final newline")
	}
	f := strings.Split(line, " ")
	if len(f) != 6 || f[0]+" "+f[1] != offlineMagic {
		return 0, time.Time{}, 0, nil, bad("not a kept key")
	}
	e, err := strconv.ParseUint(f[2], 10, 32)
	if err != nil || e == 0 || f[2] != strconv.FormatUint(e, 10) {
		return 0, time.Time{}, 0, nil, bad("epoch")
	}
	t, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil || t <= 0 || t > 1<<40 || f[3] != strconv.FormatInt(t, 10) {
		return 0, time.Time{}, 0, nil, bad("unlock time")
	}
	g, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil || g <= 0 || g > int64(MaxOfflineGrace/time.Second) || f[4] != strconv.FormatInt(g, 10) {
		return 0, time.Time{}, 0, nil, bad("grace")
	}
	box, err = base64.RawURLEncoding.Strict().DecodeString(f[5])
	if err != nil {
		return 0, time.Time{}, 0, nil, bad("sealed key")
	}
	return uint32(e), time.Unix(t, 0).UTC(), time.Duration(g) * time.Second, box, nil
}

// OpenOffline opens a kept key for the given service, org, member,
// project and environment; any other, and any edit of the file, is
// ErrOfflineKey.
func (d *DeviceSecret) OpenOffline(data []byte, service, orgID, userID, projectID, envID string) (OfflineKey, error) {
	epoch, at, grace, box, err := ParseOfflineHeader(data)
	if err != nil {
		return OfflineKey{}, err
	}
	k := OfflineKey{Service: service, Org: orgID, User: userID, Project: projectID, Env: envID, Epoch: epoch, UnlockedAt: at, Grace: grace}
	if err := k.check(); err != nil {
		return OfflineKey{}, err
	}
	sk := d.offlineSealKey(service, orgID, userID)
	ek, err := openKey[EnvKey](&sk, box, string(k.aad()))
	if err != nil {
		return OfflineKey{}, fmt.Errorf("%w: it does not open with this machine's key for %s", ErrOfflineKey, envID)
	}
	k.Key = ek
	return k, nil
}
