package checkout

import (
	"crypto/subtle"
	"fmt"

	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
)

// checkRecipientPin compares the age recipient pinned for the environment
// with the one derived from PK at the pinned epoch. Contributors encrypt
// to the pin with no way to check it, so a pin a branch swapped would send
// their values to whoever holds the other key: a member refuses to go on
// (tampered) before anything is encrypted or pushed, and says which
// environment. A project from before pins existed gets the pin added.
func (p *Project) checkRecipientPin(mk *envsync.MemberKeys, pin workspace.EnvPin) error {
	want := member.Recipient(&mk.PK, p.Repo.Project.Project, pin.ID, pin.Epoch)
	for name, e := range p.Repo.Project.Environments {
		if e.ID != pin.ID {
			continue
		}
		if e.Recipient == "" {
			e.Recipient = want
			p.Repo.Project.Environments[name] = e
			if err := p.Repo.SaveProject(); err != nil {
				return fmt.Errorf("pin the recipient of %s: %w", name, err)
			}
			p.ui.Say("pinned the age recipient of %s in .capy/project.json, so others can `capy encrypt` to it (commit it)", name)
			continue
		}
		if subtle.ConstantTimeCompare([]byte(e.Recipient), []byte(want)) != 1 {
			return refuse(fmt.Errorf("the age recipient pinned for %s in .capy/project.json is not this environment's: values encrypted to it would go to someone else", name),
				"tampered", "restore the recipient from `git log -p .capy/project.json`, and tell whoever encrypted values to it since then to redo them")
		}
	}
	return nil
}
