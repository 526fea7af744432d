package graph

import (
	"regexp"
	"strings"
)

// TenantKind is the kind of directory a tenant is. It decides which identity
// provider types exist there (spec decision D4).
type TenantKind string

// The tenant kinds.
const (
	TenantB2C       TenantKind = "b2c"       // Azure AD B2C (the default)
	TenantWorkforce TenantKind = "workforce" // Microsoft Entra ID workforce
	TenantExternal  TenantKind = "external"  // Microsoft Entra External ID
)

// Profile selects the compatibility profile (spec decision D1).
type Profile string

// The profiles.
const (
	ProfileClassic Profile = "classic" // early beta revision: PATCH connector → 200 + entity
	ProfileCurrent Profile = "current" // today's Graph: PATCH connector → 204
)

// ParseProfile accepts a profile name, case-insensitively.
func ParseProfile(s string) (Profile, error) {
	switch p := Profile(strings.ToLower(s)); p {
	case ProfileClassic, ProfileCurrent:
		return p, nil
	}
	return "", Errorf(KindInvalid, "unknown profile %q (want classic or current)", s)
}

// ParseTenantKind accepts a tenant kind, case-insensitively.
func ParseTenantKind(s string) (TenantKind, error) {
	switch k := TenantKind(strings.ToLower(s)); k {
	case TenantB2C, TenantWorkforce, TenantExternal:
		return k, nil
	}
	return "", Errorf(KindInvalid, "unknown tenant kind %q (want b2c, workforce or external)", s)
}

// Tenant is one directory. Every resource is stored under a tenant id.
type Tenant struct {
	ID          string     `json:"id"` // a GUID, lower case
	DisplayName string     `json:"displayName"`
	Kind        TenantKind `json:"kind"`
	// Profile overrides the server's compatibility profile for this tenant;
	// empty means the server default.
	Profile Profile `json:"profile,omitempty"`
	// CustomRoles are the tenant's custom directory roles, by id. A user whose
	// wids holds such an id has the role's permissions.
	CustomRoles []CustomRole `json:"customRoles,omitempty"`
}

// CustomRole is a tenant-defined directory role.
type CustomRole struct {
	ID          string   `json:"id"` // the id that appears in wids
	DisplayName string   `json:"displayName"`
	Permissions []string `json:"permissions"` // resource actions, e.g. microsoft.directory/identityProviders/allProperties/allTasks
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsGUID reports whether s is a GUID in its 36-character form.
func IsGUID(s string) bool { return guidRE.MatchString(s) }

// Validate reports the first problem that makes t unacceptable to store.
func (t *Tenant) Validate() error {
	if !IsGUID(t.ID) {
		return Errorf(KindInvalid, "tenant id %q is not a GUID", t.ID)
	}
	if t.ID == MSATenantID {
		return Errorf(KindInvalid, "tenant id %s is reserved for personal Microsoft accounts", t.ID)
	}
	if _, err := ParseTenantKind(string(t.Kind)); err != nil {
		return err
	}
	if t.Profile != "" {
		if _, err := ParseProfile(string(t.Profile)); err != nil {
			return err
		}
	}
	for _, r := range t.CustomRoles {
		if !IsGUID(r.ID) {
			return Errorf(KindInvalid, "custom role id %q is not a GUID", r.ID)
		}
	}
	return nil
}
