package server

import (
	"fmt"
	"slices"
	"strings"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
)

// OrgCreation says who may create organisations on this service.
type OrgCreation string

// The org-creation rules (capyd --org-creation).
const (
	// OrgCreationAnyone lets every signed-in account create organisations
	// (the default).
	OrgCreationAnyone OrgCreation = "anyone"
	// OrgCreationAllowed lets only the accounts in Access.OrgCreators.
	OrgCreationAllowed OrgCreation = "allowed"
	// OrgCreationNone lets no account: people join by invite only.
	OrgCreationNone OrgCreation = "none"
)

// Access is what the operator lets people do on this service
// (docs/server.md "Operator controls"). The zero value is open: anyone
// who can read mail at an address may sign in with it, and every account
// may create organisations.
type Access struct {
	// AllowEmailDomains and AllowEmails say who may sign in: an address
	// whose domain (the part after the '@', matched whole: no subdomains)
	// is in AllowEmailDomains, or that is in AllowEmails. Both empty:
	// every address. Lower case, addresses canonical
	// (ident.CanonicalEmail).
	AllowEmailDomains []string
	AllowEmails       []string
	// OrgCreation is who may create organisations ("" is
	// OrgCreationAnyone); OrgCreators are the canonical addresses
	// OrgCreationAllowed lets.
	OrgCreation OrgCreation
	OrgCreators []string
}

// check refuses an Access whose lists are not in the form the checks
// compare with (capyd has already refused them with its own words).
func (a Access) check() error {
	for _, d := range a.AllowEmailDomains {
		if e, err := ident.CanonicalEmail("x@" + d); err != nil || e != "x@"+d {
			return fmt.Errorf("server: allowed e-mail domain %q is not a lower-case domain", d)
		}
	}
	for _, list := range [][]string{a.AllowEmails, a.OrgCreators} {
		for _, e := range list {
			if c, err := ident.CanonicalEmail(e); err != nil || c != e {
				return fmt.Errorf("server: %q is not a canonical e-mail address", e)
			}
		}
	}
	switch a.OrgCreation {
	case "", OrgCreationAnyone, OrgCreationNone:
		if len(a.OrgCreators) > 0 {
			return fmt.Errorf("server: org creators are listed, but org creation is %q, not %q", a.OrgCreation, OrgCreationAllowed)
		}
	case OrgCreationAllowed:
	default:
		return fmt.Errorf("server: unknown org-creation rule %q", a.OrgCreation)
	}
	return nil
}

// Restricted reports whether sign-in is limited by an allow list.
func (a Access) Restricted() bool { return len(a.AllowEmailDomains)+len(a.AllowEmails) > 0 }

// maySignIn reports whether email (canonical) may sign in.
func (a Access) maySignIn(email string) bool {
	if !a.Restricted() {
		return true
	}
	at := strings.LastIndexByte(email, '@')
	return slices.Contains(a.AllowEmails, email) || at >= 0 && slices.Contains(a.AllowEmailDomains, email[at+1:])
}

// mayCreateOrg reports whether the account with this (canonical) address
// may create organisations.
func (a Access) mayCreateOrg(email string) bool {
	switch a.OrgCreation {
	case OrgCreationNone:
		return false
	case OrgCreationAllowed:
		return slices.Contains(a.OrgCreators, email)
	}
	return true
}

// The refusals' details name the rule, never the lists: the operator's
// domains (a client list, say) and addresses are theirs to publish, and
// whoever is refused learns only that this address is not let in
// (docs/api.md §4.1 says what an address's answer reveals).
const (
	detailEmailNotAllowed    = "the operator of this service lets only some e-mail addresses sign in, and this one is not among them"
	detailOrgCreationNone    = "the operator of this service has turned off creating organisations; join one by invite"
	detailOrgCreationAllowed = "the operator of this service lets only some accounts create organisations, and this one is not among them"
)

// orgCreationRefusal is the problem for an account that may not create
// organisations.
func (a Access) orgCreationRefusal() *problemError {
	if a.OrgCreation == OrgCreationNone {
		return problem(api.POrgCreationNotAllowed, detailOrgCreationNone)
	}
	return problem(api.POrgCreationNotAllowed, detailOrgCreationAllowed)
}
