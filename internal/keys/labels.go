package keys

// Every HKDF salt prefix, info label and AAD prefix of the key hierarchy
// (DESIGN §2.1, §2.2). A change to any of these changes every key derived
// from it and fails the known-answer vectors in testdata/vectors.
const (
	mnemonicSalt   = "capy-mnemonic" // PBKDF2 salt for phrase → M
	mnemonicRounds = 2048

	infoKeyCheck   = "capy:key-check"
	infoProject    = "capy:project:"  // || projectID
	infoEnv        = "capy:env:"      // || envID ":" epoch
	infoSnippet    = "capy:snippet"   // salt envID
	infoRid        = "capy:rid"       // salt envID
	infoEnvSign    = "capy:env-sign:" // || epoch; salt envID
	infoInnerWrap  = "capy:inner-wrap"
	infoInvite     = "capy:invite"      // salt orgID ":" email
	infoDeploy     = "capy:deploy"      // salt envID
	infoDeployAuth = "capy:deploy-auth" // salt envID
	infoOfflineKey = "capy:offline-key" // salt SHA-256(service "\n" orgID "\n" userID)
	infoPinCheck   = "capy:pin-check"   // salt projectID; local only (PinCheckTag)

	aadKeyEnc = "capy:key:"    // || orgID ":" userID
	aadInvite = "capy:invite:" // || orgID ":" email
	aadDeploy = "capy:deploy:" // || envID ":" epoch
	// || service, orgID, userID, projectID, envID, epoch, unlock time
	// (unix seconds), grace (seconds), joined by "\n".
	aadOffline = "capy:offline:"
	// || envID, epoch, signing key, recipient, each after its length
	// (4 bytes, big-endian).
	msgPinCheck = "capy:pin-check:"

	keyFileMagic = "capy-ek 1"
	offlineMagic = "capy-offline 1"
)

// keyCheckLen is the number of HKDF bytes in the key check (hex-encoded).
const keyCheckLen = 16

// The environment's age identity (docs/protocol.md §14).
const (
	infoAgeIdentity = "capy:age-identity:" // || epoch; salt envID
	ageIdentityHRP  = "AGE-SECRET-KEY-PQ-" // age's Bech32 prefix of a hybrid identity
)
