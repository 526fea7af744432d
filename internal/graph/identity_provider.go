package graph

import "strings"

// IdentityProvider is one identity provider of a tenant. The deprecated
// /identityProviders API and /identity/identityProviders are two views of the
// same stored value (decision D4): name is displayName, type is
// identityProviderType.
type IdentityProvider struct {
	ID string `json:"id"` // server-assigned: {Type}-OAUTH for social providers
	// ODataType is the concrete identityProviderBase subtype, e.g.
	// "socialIdentityProvider", without the "#microsoft.graph." prefix.
	ODataType   string `json:"odataType"`
	DisplayName string `json:"displayName"`
	// ProviderType is identityProviderType (deprecated view: type), in its
	// canonical spelling, e.g. "Amazon".
	ProviderType string `json:"identityProviderType"`
	ClientID     string `json:"clientId,omitempty"`
	ClientSecret Sealed `json:"clientSecret,omitempty"` // write-only
}

// The identity provider subtypes.
const (
	TypeSocialIdentityProvider = "socialIdentityProvider"
)

// socialTypes lists the social provider types each tenant kind accepts, in the
// canonical spelling Graph uses.
var socialTypes = map[TenantKind][]string{
	TenantB2C:       {"Microsoft", "Google", "Amazon", "LinkedIn", "Facebook", "GitHub", "Twitter", "Weibo", "QQ", "WeChat"},
	TenantWorkforce: {"Google", "Facebook"},
	TenantExternal:  {"Google", "Facebook"},
}

// CanonicalSocialType returns the canonical spelling of a social provider type
// that tenants of kind k accept, matching case-insensitively.
func CanonicalSocialType(k TenantKind, t string) (string, bool) {
	for _, s := range socialTypes[k] {
		if strings.EqualFold(s, t) {
			return s, true
		}
	}
	return "", false
}

// SocialTypes returns the social provider types tenants of kind k accept.
func SocialTypes(k TenantKind) []string { return append([]string(nil), socialTypes[k]...) }

// SocialProviderID is the fixed id of the social provider of type t.
func SocialProviderID(t string) string { return t + "-OAUTH" }

// deprecatedAvailableTypes answers GET /identityProviders/availableProviderTypes
// per tenant kind, as the documented examples show.
var deprecatedAvailableTypes = map[TenantKind][]string{
	TenantB2C:       {"Amazon", "OpenIDConnect", "Facebook", "GitHub", "Google", "LinkedIn", "Microsoft", "QQ", "Twitter", "WeChat", "Weibo"},
	TenantWorkforce: {"Google", "Facebook", "MicrosoftAccount", "EmailOTP"},
	TenantExternal:  {"Google", "Facebook", "MicrosoftAccount", "EmailOTP"},
}

// DeprecatedAvailableProviderTypes returns the provider types the deprecated
// API lists as available in tenants of kind k.
func DeprecatedAvailableProviderTypes(k TenantKind) []string {
	return append([]string(nil), deprecatedAvailableTypes[k]...)
}

// Limits on identity provider properties.
const MaxClientIDLength = 256

// View is the API through which a provider is written. Both views store the
// same value; each names the properties its own way in messages.
type View int

// The two views of identity providers.
const (
	ViewCurrent    View = iota // /identity/identityProviders: displayName, identityProviderType
	ViewDeprecated             // /identityProviders: name, type
)

// property returns the name of a property in view v.
func (v View) property(name string) string {
	if v == ViewDeprecated {
		switch name {
		case "displayName":
			return "name"
		case "identityProviderType":
			return "type"
		}
	}
	return name
}

// Validate reports the first problem that makes p unacceptable to store in a
// tenant of kind k, naming properties as view v does.
func (p *IdentityProvider) Validate(k TenantKind, v View) error {
	switch p.ODataType {
	case TypeSocialIdentityProvider:
	default:
		return Errorf(KindInvalid, "Identity provider type %q is not supported.", p.ODataType)
	}
	if err := validateName(v.property("displayName"), p.DisplayName); err != nil {
		return err
	}
	if _, ok := CanonicalSocialType(k, p.ProviderType); !ok {
		return Errorf(KindInvalid, "%s '%s' is not supported in this tenant. Supported types: %s.",
			v.property("identityProviderType"), p.ProviderType, strings.Join(socialTypes[k], ", "))
	}
	if strings.TrimSpace(p.ClientID) == "" {
		return Errorf(KindInvalid, "clientId is required and cannot be empty.")
	}
	if len(p.ClientID) > MaxClientIDLength {
		return Errorf(KindInvalid, "clientId must be at most %d characters.", MaxClientIDLength)
	}
	if !p.ClientSecret.Set() {
		return Errorf(KindInvalid, "clientSecret is required and cannot be empty.")
	}
	return nil
}
