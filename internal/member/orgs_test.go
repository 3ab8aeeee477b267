package member

import (
	"errors"
	"testing"

	"github.com/capy-oss/capy/internal/api"
)

func TestFindOrg(t *testing.T) {
	orgs := []api.Org{
		{ID: "org_aaaaaaaaaaaaaaaaaaaaaaaaaa", Name: "Acme"},
		{ID: "org_bbbbbbbbbbbbbbbbbbbbbbbbbb", Name: "beta"},
		{ID: "org_cccccccccccccccccccccccccc", Name: "Twin"},
		{ID: "org_dddddddddddddddddddddddddd", Name: "Twin"},
		{ID: "org_eeeeeeeeeeeeeeeeeeeeeeeeee", Name: "CASE"},
		{ID: "org_ffffffffffffffffffffffffff", Name: "case"},
	}
	for _, c := range []struct {
		arg, id string
		err     error
	}{
		{"Acme", "org_aaaaaaaaaaaaaaaaaaaaaaaaaa", nil},
		{"acme", "org_aaaaaaaaaaaaaaaaaaaaaaaaaa", nil}, // the only one equal ignoring case
		{"org_bbbbbbbbbbbbbbbbbbbbbbbbbb", "org_bbbbbbbbbbbbbbbbbbbbbbbbbb", nil},
		{"case", "org_ffffffffffffffffffffffffff", nil}, // exact first
		{"Case", "", ErrAmbiguousOrg},                   // two equal ignoring case
		{"Twin", "", ErrAmbiguousOrg},
		{"Acmee", "", ErrNoSuchOrg},
		{"org_zzzzzzzzzzzzzzzzzzzzzzzzzz", "", ErrNoSuchOrg}, // an id never matches a name
		{"", "", ErrNoSuchOrg},
	} {
		o, err := FindOrg(orgs, c.arg)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%q: %v, want %v", c.arg, err, c.err)
			}
			continue
		}
		if err != nil || o.ID != c.id {
			t.Errorf("%q: %+v %v, want %s", c.arg, o, err, c.id)
		}
	}
}
