package graph

// Sealed is a secret as it is stored: ciphertext bound to its tenant, object
// and field. Only the secret package can open it. An empty Sealed means "no
// secret set".
type Sealed []byte

// Set reports whether a secret is present.
func (s Sealed) Set() bool { return len(s) > 0 }

// Masks are what read paths show instead of a secret (spec §3).
const (
	MaskSix  = "******" // basicAuthentication.password, socialIdentityProvider.clientSecret, appleManaged certificateData
	MaskFive = "*****"  // the deprecated identityProvider.clientSecret
)
