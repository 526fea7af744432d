package graph

// Principal is the authenticated caller of one request, taken from a verified
// access token. TenantID is the only source of the tenant a request works on:
// never a path, header or body.
type Principal struct {
	TenantID string // validated tid claim
	ObjectID string // oid: the user or service principal
	AppID    string // appid / azp: the calling client application
	// Delegated is true for a user's token (it carries scp), false for an
	// application-only token.
	Delegated bool
	// Roles holds application permissions (the roles claim) of an app-only token.
	Roles []string
	// Scopes holds delegated permissions (the space-separated scp claim).
	Scopes []string
	// DirectoryRoles holds the role template ids (or custom role ids) in wids.
	DirectoryRoles []string
}

// MSATenantID is the tenant of personal Microsoft accounts; every operation of
// this slice refuses it.
const MSATenantID = "9188040d-6c67-4c5b-b112-36a304b66dad"
