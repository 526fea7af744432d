package graph

import (
	"strings"
	"unicode/utf8"
)

// App is an app registration of a tenant: a client that gets tokens from the
// built-in authority with the client credentials (or, for delegated testing,
// resource-owner password) grant.
type App struct {
	ClientID    string `json:"clientId"` // a GUID; the token's appid/azp
	ObjectID    string `json:"objectId"` // the service principal's id; the app token's oid
	DisplayName string `json:"displayName"`
	// Secrets are the app's client secrets, stored as hashes only.
	Secrets []AppSecret `json:"secrets"`
	// Roles are the granted application permissions (the app token's roles).
	Roles []string `json:"roles,omitempty"`
	// Scopes are the delegated permissions granted to the app (a user token's scp).
	Scopes []string `json:"scopes,omitempty"`
	// PublicClient allows the resource-owner password grant without a client
	// secret, as the SDKs' username/password credentials send it. Other apps
	// must prove their secret first.
	PublicClient bool `json:"publicClient,omitempty"`
}

// AppSecret is one client secret. Its value is never stored: a secret is a
// long random string, so a SHA-256 hash is enough to check it.
type AppSecret struct {
	KeyID string `json:"keyId"` // a GUID naming the secret
	Hint  string `json:"hint"`  // the first three characters, as Entra shows them
	Hash  []byte `json:"hash"`  // SHA-256 of the secret
}

// User is a user of a tenant, for delegated sign-in.
type User struct {
	ID                string `json:"id"` // a GUID; the user token's oid
	UserPrincipalName string `json:"userPrincipalName"`
	// PasswordHash is a salted PBKDF2 hash of the password.
	PasswordHash []byte `json:"passwordHash"`
	// DirectoryRoles are role template ids or custom role ids (the token's wids).
	DirectoryRoles []string `json:"directoryRoles,omitempty"`
}

// Validate reports the first problem that makes a unacceptable to store.
func (a *App) Validate() error {
	if !IsGUID(a.ClientID) || !IsGUID(a.ObjectID) {
		return Errorf(KindInvalid, "an app's client id and object id must be GUIDs")
	}
	if err := validateName("displayName", a.DisplayName); err != nil {
		return err
	}
	for _, p := range append(append([]string(nil), a.Roles...), a.Scopes...) {
		if p == "" || strings.ContainsAny(p, " ,") {
			return Errorf(KindInvalid, "permission %q is not a permission name", p)
		}
	}
	return nil
}

// Validate reports the first problem that makes u unacceptable to store.
func (u *User) Validate() error {
	if !IsGUID(u.ID) {
		return Errorf(KindInvalid, "a user's id must be a GUID")
	}
	upn := u.UserPrincipalName
	if at := strings.IndexByte(upn, '@'); at <= 0 || at == len(upn)-1 || utf8.RuneCountInString(upn) > 113 || strings.ContainsAny(upn, " ") {
		return Errorf(KindInvalid, "userPrincipalName %q must look like name@domain", upn)
	}
	if len(u.PasswordHash) == 0 {
		return Errorf(KindInvalid, "a user needs a password")
	}
	return nil
}
