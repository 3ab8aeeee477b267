package keys

import (
	"fmt"
	"io"
)

// Format implementations make every fmt verb (%v, %s, %x, %d, …) print
// "[redacted]" for key types, so no formatting mistake can put key bytes
// in a log or an error message.

func redactTo(f fmt.State) { io.WriteString(f, redacted) }

// Format redacts the key for every verb.
func (MasterKey) Format(f fmt.State, _ rune) { redactTo(f) }

// Format redacts the key for every verb.
func (ProjectKey) Format(f fmt.State, _ rune) { redactTo(f) }

// Format redacts the key for every verb.
func (EnvKey) Format(f fmt.State, _ rune) { redactTo(f) }

// Format redacts the key for every verb.
func (InnerWrapKey) Format(f fmt.State, _ rune) { redactTo(f) }

// Format redacts the token for every verb.
func (InviteToken) Format(f fmt.State, _ rune) { redactTo(f) }

// Format redacts the token for every verb.
func (DeployToken) Format(f fmt.State, _ rune) { redactTo(f) }

// Format redacts the secret for every verb.
func (DeviceSecret) Format(f fmt.State, _ rune) { redactTo(f) }

// Format redacts the subkeys for every verb.
func (c EnvCipher) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// Format redacts the key for every verb.
func (k EnvKeyFile) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }
