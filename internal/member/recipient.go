package member

import "github.com/capy-oss/capy/internal/keys"

// Recipient is the age post-quantum recipient a member derives for an
// environment at an epoch (from EK), spelt as project.json pins it.
func Recipient(pk *keys.ProjectKey, projectID, envID string, epoch uint32) string {
	ek := pk.EnvKey(projectID, envID, epoch)
	return ek.AgeIdentity(envID, epoch).Recipient()
}
