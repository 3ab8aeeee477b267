package member

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/ident"
)

// listPage is the page size the account's listings ask for.
const listPage = 200

// Orgs returns every organisation the account belongs to, all pages
// (bounded by client.Collect), sorted by name then id.
func (a *Account) Orgs(ctx context.Context) ([]api.Org, error) {
	orgs, err := client.Collect(func(cursor string) (*api.List[api.Org], error) {
		return a.Client.Orgs(ctx, cursor, listPage)
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(orgs, func(i, j int) bool {
		if orgs[i].Name != orgs[j].Name {
			return orgs[i].Name < orgs[j].Name
		}
		return orgs[i].ID < orgs[j].ID
	})
	return orgs, nil
}

// Projects returns every project of orgID, all pages, sorted by name.
func (a *Account) Projects(ctx context.Context, orgID string) ([]api.Project, error) {
	prjs, err := client.Collect(func(cursor string) (*api.List[api.Project], error) {
		return a.Client.Projects(ctx, orgID, cursor, listPage)
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(prjs, func(i, j int) bool { return prjs[i].Name < prjs[j].Name })
	return prjs, nil
}

// ErrNoSuchOrg means no organisation of the account has the id or name
// asked for.
var ErrNoSuchOrg = errors.New("no such organisation")

// ErrAmbiguousOrg means several organisations of the account share the
// name asked for: the id tells them apart.
var ErrAmbiguousOrg = errors.New("several organisations have that name")

// FindOrg picks, among orgs, the one named by arg: an org id, or a name
// (exact; else the only one equal ignoring case).
func FindOrg(orgs []api.Org, arg string) (*api.Org, error) {
	if ident.CheckID(ident.Org, arg) == nil {
		for i := range orgs {
			if orgs[i].ID == arg {
				return &orgs[i], nil
			}
		}
		return nil, fmt.Errorf("%w: you belong to no organisation %s", ErrNoSuchOrg, arg)
	}
	for _, fold := range []bool{false, true} {
		var found []*api.Org
		for i := range orgs {
			if orgs[i].Name == arg || fold && strings.EqualFold(orgs[i].Name, arg) {
				found = append(found, &orgs[i])
			}
		}
		switch len(found) {
		case 0:
			continue
		case 1:
			return found[0], nil
		default:
			ids := make([]string, len(found))
			for i, o := range found {
				ids[i] = o.ID
			}
			return nil, fmt.Errorf("%w: %q is %s", ErrAmbiguousOrg, arg, strings.Join(ids, ", "))
		}
	}
	return nil, fmt.Errorf("%w: you belong to no organisation named %q", ErrNoSuchOrg, arg)
}

// FindProject picks, among prjs, the one named by arg: a project id or a
// name.
func FindProject(prjs []api.Project, arg string) (*api.Project, bool) {
	for i := range prjs {
		if prjs[i].ID == arg || prjs[i].Name == arg {
			return &prjs[i], true
		}
	}
	return nil, false
}

// Versions returns every version's metadata of an environment, all pages,
// in the service's order (newest first).
func (a *Account) Versions(ctx context.Context, orgID, projectID, envID string) ([]api.BlobMeta, error) {
	return client.Collect(func(cursor string) (*api.List[api.BlobMeta], error) {
		return a.Client.Versions(ctx, orgID, projectID, envID, cursor, listPage)
	})
}
