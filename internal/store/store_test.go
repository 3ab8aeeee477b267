package store

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestRoles(t *testing.T) {
	cases := []struct {
		r, o Role
		want bool
	}{
		{RoleOwner, RoleAdmin, true},
		{RoleOwner, RoleOwner, true},
		{RoleAdmin, RoleOwner, false},
		{RoleAdmin, RoleMember, true},
		{RoleMember, RoleAdmin, false},
		{RoleMember, RoleMember, true},
		{"", RoleMember, false},
		{"root", RoleMember, false},
	}
	for _, c := range cases {
		if got := c.r.AtLeast(c.o); got != c.want {
			t.Errorf("%q.AtLeast(%q) = %v", c.r, c.o, got)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	if _, err := (Config{}).WithDefaults(); err == nil {
		t.Fatal("a config without pepper was accepted")
	}
	c, err := Config{CodePepper: make([]byte, MinCodePepperLen)}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.SessionIdle != 30*24*time.Hour || c.SessionAbsolute != 90*24*time.Hour || c.LoginCodeTTL != 10*time.Minute ||
		c.LoginCodeMaxAttempts != 5 || c.SessionTouch != time.Hour || c.Now == nil {
		t.Fatalf("defaults %+v", c)
	}
	if _, err := (Config{CodePepper: make([]byte, 16), SessionIdle: 100 * 24 * time.Hour}).WithDefaults(); err == nil {
		t.Fatal("idle lifetime above the absolute one accepted")
	}
}

func TestHook(t *testing.T) {
	var got []HookPoint
	ctx := WithHook(t.Context(), func(p HookPoint) { got = append(got, p) })
	RunHook(ctx, HookPushLocked)
	RunHook(t.Context(), HookPushLocked) // no hook: nothing happens
	if len(got) != 1 || got[0] != HookPushLocked {
		t.Fatalf("hook calls %v", got)
	}
}

func TestErrorsDistinct(t *testing.T) {
	all := []error{ErrNotFound, ErrExists, ErrConflict, ErrInvalid, ErrUnauthenticated, ErrNotMember, ErrRevoked,
		ErrForbidden, ErrLastOwner, ErrExpired, ErrConsumed, ErrBadCode, ErrCodeLocked, ErrChainBroken, ErrUnavailable,
		ErrSchemaTooNew, ErrSchemaOutdated}
	for i, a := range all {
		for j, b := range all {
			if i != j && errors.Is(a, b) {
				t.Errorf("%v is %v", a, b)
			}
		}
	}
}

// The service must not be able to derive a client key, even by accident:
// no store package may import the client-side key hierarchy, sync or the
// .env handling (DESIGN §6).
func TestImportGraph(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/capy-oss/capy/internal/store/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"/internal/keys", "/internal/envsync", "/internal/envfile"} {
			if strings.HasSuffix(dep, "github.com/capy-oss/capy"+banned) || strings.Contains(dep, "github.com/capy-oss/capy"+banned+"/") {
				t.Errorf("the store depends on %s", dep)
			}
		}
	}
}
