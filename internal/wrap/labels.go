package wrap

// Every fixed string this package feeds into a MAC, a KDF or an AEAD lives
// here, so a reviewer can see all of them at once and a change to one shows
// up in a single diff (and fails the known-answer vectors).
const (
	// snippetPrefix starts every snippet; snippetAADPrefix || rid is its AAD.
	snippetPrefix    = "capy:"
	snippetAADPrefix = "capy:v1:"

	// outerInfoPrefix || purpose is the HKDF info of the service's outer key.
	outerInfoPrefix = "capyd:outer:"

	// blobHeader is the first line of an environment blob; manifestTag
	// starts its second line; manifestMagic starts the signed message.
	blobHeader    = "capy-blob 1\n"
	manifestTag   = "manifest "
	manifestMagic = "capy-manifest 1\n"

	// Code prefixes; the payload version byte follows inside.
	redeemCodePrefix = "capy-redeem-"
	deployCodePrefix = "capy-deploy-"
)

// Outer wrap purposes (DESIGN §2.6).
const (
	PurposeKey    = "key"
	PurposeInvite = "invite"
	PurposeDeploy = "deploy"
)
