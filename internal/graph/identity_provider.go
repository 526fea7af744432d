package graph

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// IdentityProvider is one identity provider of a tenant: one concrete
// identityProviderBase subtype (ODataType) with the properties of that
// subtype set. The deprecated /identityProviders API and
// /identity/identityProviders are two views of the same stored value
// (decision D4): name is displayName, type is identityProviderType.
type IdentityProvider struct {
	ID string `json:"id"` // server-assigned (see the New*ID functions)
	// ODataType is the concrete identityProviderBase subtype, one of the
	// Type* constants, without the "#microsoft.graph." prefix.
	ODataType   string `json:"odataType"`
	DisplayName string `json:"displayName"`
	// ProviderType is identityProviderType (deprecated view: type), in its
	// canonical spelling, e.g. "Amazon"; social and built-in providers, and
	// "OpenIDConnect" for openIdConnect providers.
	ProviderType string `json:"identityProviderType,omitempty"`
	ClientID     string `json:"clientId,omitempty"`
	ClientSecret Sealed `json:"clientSecret,omitempty"` // social, openIdConnect; write-only

	// appleManagedIdentityProvider.
	DeveloperID     string `json:"developerId,omitempty"`
	ServiceID       string `json:"serviceId,omitempty"`
	KeyID           string `json:"keyId,omitempty"`
	CertificateData Sealed `json:"certificateData,omitempty"` // write-only

	// openIdConnectIdentityProvider (B2C) and oidcIdentityProvider (external).
	ClaimsMapping *ClaimsMapping `json:"claimsMapping,omitempty"` // openIdConnect
	DomainHint    string         `json:"domainHint,omitempty"`    // openIdConnect
	MetadataURL   string         `json:"metadataUrl,omitempty"`   // openIdConnect
	ResponseMode  string         `json:"responseMode,omitempty"`  // openIdConnect: form_post | query
	ResponseType  string         `json:"responseType,omitempty"`  // both: code, id_token, token (flags)
	Scope         string         `json:"scope,omitempty"`         // both

	Issuer              string               `json:"issuer,omitempty"`               // oidc
	WellKnownEndpoint   string               `json:"wellKnownEndpoint,omitempty"`    // oidc
	ClientAuth          *OIDCClientAuth      `json:"clientAuthentication,omitempty"` // oidc
	InboundClaimMapping *InboundClaimMapping `json:"inboundClaimMapping,omitempty"`  // oidc
}

// ClaimsMapping is an openIdConnectIdentityProvider's claimsMapping.
type ClaimsMapping struct {
	UserID      string `json:"userId"`
	GivenName   string `json:"givenName"`
	Surname     string `json:"surname"`
	Email       string `json:"email"`
	DisplayName string `json:"displayName"`
}

// OIDCClientAuth is an oidcIdentityProvider's clientAuthentication: a client
// secret (oidcClientSecretAuthentication) or a private-key JWT
// (oidcPrivateJwtKeyClientAuthentication, no properties).
type OIDCClientAuth struct {
	Type         string `json:"type"` // OIDCClientSecret or OIDCPrivateJWTKey
	ClientSecret Sealed `json:"clientSecret,omitempty"`
}

// The oidcClientAuthentication subtypes.
const (
	OIDCClientSecret  = "oidcClientSecretAuthentication"
	OIDCPrivateJWTKey = "oidcPrivateJwtKeyClientAuthentication"
)

// InboundClaimMapping is an oidcIdentityProvider's inboundClaimMapping
// (oidcInboundClaimMappingOverride). Nil members are unset (null).
type InboundClaimMapping struct {
	Sub                 *string        `json:"sub"`
	Name                *string        `json:"name"`
	GivenName           *string        `json:"given_name"`
	FamilyName          *string        `json:"family_name"`
	Email               *string        `json:"email"`
	EmailVerified       *string        `json:"email_verified"`
	PhoneNumber         *string        `json:"phone_number"`
	PhoneNumberVerified *string        `json:"phone_number_verified"`
	Address             *AddressClaims `json:"address"`
}

// AddressClaims is oidcAddressInboundClaims.
type AddressClaims struct {
	StreetAddress *string `json:"street_address"`
	Locality      *string `json:"locality"`
	Region        *string `json:"region"`
	PostalCode    *string `json:"postal_code"`
	Country       *string `json:"country"`
}

// The identity provider subtypes (identityProviderBase family, spec §1.7).
const (
	TypeSocialIdentityProvider        = "socialIdentityProvider"
	TypeBuiltInIdentityProvider       = "builtInIdentityProvider"
	TypeAppleManagedIdentityProvider  = "appleManagedIdentityProvider"
	TypeOpenIDConnectIdentityProvider = "openIdConnectIdentityProvider" // beta, B2C
	TypeOIDCIdentityProvider          = "oidcIdentityProvider"          // external tenants
)

// ProviderTypes lists the concrete subtypes, for matching names sent by
// clients case-insensitively.
var ProviderTypes = []string{TypeSocialIdentityProvider, TypeBuiltInIdentityProvider,
	TypeAppleManagedIdentityProvider, TypeOpenIDConnectIdentityProvider, TypeOIDCIdentityProvider}

// CanonicalProviderType returns the canonical spelling of a subtype name
// ("OidcIdentityProvider" → "oidcIdentityProvider").
func CanonicalProviderType(name string) (string, bool) {
	for _, t := range ProviderTypes {
		if strings.EqualFold(t, name) {
			return t, true
		}
	}
	return "", false
}

// OpenIDConnectType is the deprecated view's type of openIdConnect providers.
const OpenIDConnectType = "OpenIDConnect"

// AppleManagedProviderID is the fixed id of a tenant's Apple provider.
const AppleManagedProviderID = "Apple-Managed-OIDC"

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
func SocialTypes(k TenantKind) []string { return slices.Clone(socialTypes[k]) }

// SocialProviderID is the fixed id of the social provider of type t.
func SocialProviderID(t string) string { return t + "-OAUTH" }

var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// OpenIDConnectProviderID is the id of a B2C OpenID Connect provider, in the
// form Graph gives them today: {name}-OIDC-{clientId}, with characters that
// are not letters, digits, "-" or "_" removed.
func OpenIDConnectProviderID(displayName, clientID string) string {
	name := idUnsafe.ReplaceAllString(displayName, "")
	if len(name) > 64 {
		name = name[:64]
	}
	if name == "" {
		name = "Custom"
	}
	return name + "-OIDC-" + idUnsafe.ReplaceAllString(clientID, "")
}

// BuiltInProvider is a provider every tenant of a kind has from the start.
type BuiltInProvider struct{ ID, DisplayName, ProviderType string }

// builtIns are the read-only built-in providers per tenant kind, as the
// documented lists show them.
var builtIns = map[TenantKind][]BuiltInProvider{
	TenantWorkforce: {{"MSASignup-OAUTH", "MicrosoftAccount", "MicrosoftAccount"}},
	TenantExternal: {
		{"AADSignup-OAUTH", "Azure Active Directory Sign up", "AADSignup"},
		{"EmailOtpSignup-OAUTH", "Email One Time Passcode", "EmailOTP"},
		{"EmailPassword-OAUTH", "Email with password", "EmailPassword"},
	},
}

// BuiltInProviders returns the built-in providers of a tenant of kind k.
func BuiltInProviders(k TenantKind) []IdentityProvider {
	var out []IdentityProvider
	for _, b := range builtIns[k] {
		out = append(out, IdentityProvider{ID: b.ID, ODataType: TypeBuiltInIdentityProvider, DisplayName: b.DisplayName, ProviderType: b.ProviderType})
	}
	return out
}

// availableTypes answers GET /identity/identityProviders/availableProviderTypes
// per tenant kind: the documented lists for workforce and B2C tenants; for
// external tenants, the types they support.
var availableTypes = map[TenantKind][]string{
	TenantWorkforce: {"MicrosoftAccount", "EmailOTP", "Facebook", "Google"},
	TenantB2C:       {"Microsoft", "Google", "Facebook", "Amazon", "LinkedIn", "Weibo", "QQ", "WeChat", "Twitter", "GitHub", "AppleManaged", "OpenIdConnect"},
	TenantExternal:  {"EmailPassword", "EmailOTP", "Facebook", "Google", "AppleManaged", "OpenIdConnect"},
}

// AvailableProviderTypes returns the provider types of tenants of kind k.
func AvailableProviderTypes(k TenantKind) []string { return slices.Clone(availableTypes[k]) }

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
	return slices.Clone(deprecatedAvailableTypes[k])
}

// creatable says which subtypes each tenant kind can create, update and
// delete (spec §1.7 table); built-ins are never writable.
var creatable = map[TenantKind][]string{
	TenantWorkforce: {TypeSocialIdentityProvider},
	TenantB2C:       {TypeSocialIdentityProvider, TypeAppleManagedIdentityProvider, TypeOpenIDConnectIdentityProvider},
	TenantExternal:  {TypeSocialIdentityProvider, TypeAppleManagedIdentityProvider, TypeOIDCIdentityProvider},
}

// ProviderWritable reports whether tenants of kind k can create providers of
// subtype typ through the API version (beta or not). openIdConnect
// providers exist in beta only.
func ProviderWritable(k TenantKind, typ string, beta bool) bool {
	if typ == TypeOpenIDConnectIdentityProvider && !beta {
		return false
	}
	return slices.Contains(creatable[k], typ)
}

// ProviderVisible reports whether a provider of subtype typ is shown through
// the API version: the openIdConnectIdentityProvider type exists in beta only.
func ProviderVisible(typ string, beta bool) bool {
	return beta || typ != TypeOpenIDConnectIdentityProvider
}

// WritableProviderTypes lists the subtypes writable in tenants of kind k
// through the API version, for messages.
func WritableProviderTypes(k TenantKind, beta bool) []string {
	var out []string
	for _, t := range creatable[k] {
		if ProviderWritable(k, t, beta) {
			out = append(out, t)
		}
	}
	return out
}

// Limits on identity provider properties.
const (
	MaxClientIDLength  = 256
	MaxPropertyLength  = 2048  // URLs, scopes, hints, Apple ids
	MaxCertificateData = 16384 // an Apple .p8 key is well under 1 KiB
)

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
// tenant of kind k, naming properties as view v does. It checks the stored
// value as a whole, so create and update share it.
func (p *IdentityProvider) Validate(k TenantKind, v View) error {
	if err := validateName(v.property("displayName"), p.DisplayName); err != nil {
		return err
	}
	switch p.ODataType {
	case TypeSocialIdentityProvider:
		if _, ok := CanonicalSocialType(k, p.ProviderType); !ok {
			return Errorf(KindInvalid, "%s '%s' is not supported in this tenant. Supported types: %s.",
				v.property("identityProviderType"), p.ProviderType, strings.Join(socialTypes[k], ", "))
		}
		if err := requireString("clientId", p.ClientID, MaxClientIDLength); err != nil {
			return err
		}
		return requireSecret("clientSecret", p.ClientSecret)
	case TypeBuiltInIdentityProvider:
		return nil
	case TypeAppleManagedIdentityProvider:
		for _, f := range []struct{ name, value string }{{"developerId", p.DeveloperID}, {"serviceId", p.ServiceID}, {"keyId", p.KeyID}} {
			if err := requireString(f.name, f.value, MaxPropertyLength); err != nil {
				return err
			}
		}
		return nil
	case TypeOpenIDConnectIdentityProvider:
		return p.validateOpenIDConnect()
	case TypeOIDCIdentityProvider:
		return p.validateOIDC()
	}
	return Errorf(KindInvalid, "Identity provider type '%s' is not supported.", p.ODataType)
}

func (p *IdentityProvider) validateOpenIDConnect() error {
	if err := requireString("clientId", p.ClientID, MaxClientIDLength); err != nil {
		return err
	}
	if err := validateHTTPSURL("metadataUrl", p.MetadataURL, true); err != nil {
		return err
	}
	if err := requireString("scope", p.Scope, MaxPropertyLength); err != nil {
		return err
	}
	if len(p.DomainHint) > MaxPropertyLength {
		return Errorf(KindInvalid, "domainHint must be at most %d characters.", MaxPropertyLength)
	}
	switch p.ResponseMode {
	case "form_post", "query":
	default:
		return Errorf(KindInvalid, "responseMode must be 'form_post' or 'query'.")
	}
	flags, err := parseResponseType(p.ResponseType)
	if err != nil {
		return err
	}
	if slices.Contains(flags, "code") && !p.ClientSecret.Set() {
		return Errorf(KindInvalid, "clientSecret is required when responseType is 'code'.")
	}
	m := p.ClaimsMapping
	if m == nil || strings.TrimSpace(m.UserID) == "" || strings.TrimSpace(m.DisplayName) == "" {
		return Errorf(KindInvalid, "claimsMapping is required, with at least userId and displayName.")
	}
	for _, s := range []string{m.UserID, m.GivenName, m.Surname, m.Email, m.DisplayName} {
		if len(s) > MaxPropertyLength {
			return Errorf(KindInvalid, "claimsMapping values must be at most %d characters.", MaxPropertyLength)
		}
	}
	return nil
}

func (p *IdentityProvider) validateOIDC() error {
	if err := requireString("clientId", p.ClientID, MaxClientIDLength); err != nil {
		return err
	}
	if err := validateHTTPSURL("issuer", p.Issuer, false); err != nil {
		return err
	}
	if u, _ := url.Parse(p.Issuer); u != nil {
		if h := strings.ToLower(u.Hostname()); h == "microsoftonline.com" || strings.HasSuffix(h, ".microsoftonline.com") {
			return Errorf(KindInvalid, "issuer: Microsoft Entra (microsoftonline.com) issuers cannot be added as OpenID Connect providers.")
		}
	}
	if err := validateHTTPSURL("wellKnownEndpoint", p.WellKnownEndpoint, true); err != nil {
		return err
	}
	if err := requireString("scope", p.Scope, MaxPropertyLength); err != nil {
		return err
	}
	if p.ResponseType != "code" {
		return Errorf(KindInvalid, "responseType must be 'code': 'id_token' and 'token' are not supported for oidcIdentityProvider.")
	}
	a := p.ClientAuth
	switch {
	case a == nil:
		return Errorf(KindInvalid, "clientAuthentication is required.")
	case a.Type == OIDCClientSecret:
		if err := requireSecret("clientAuthentication.clientSecret", a.ClientSecret); err != nil {
			return err
		}
	case a.Type == OIDCPrivateJWTKey:
	default:
		return Errorf(KindInvalid, "clientAuthentication must be an oidcClientSecretAuthentication or an oidcPrivateJwtKeyClientAuthentication.")
	}
	if p.InboundClaimMapping == nil {
		return Errorf(KindInvalid, "inboundClaimMapping is required.")
	}
	return nil
}

// parseResponseType reads a flags value ("code", "code,id_token").
func parseResponseType(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch f {
		case "code", "id_token", "token":
			if slices.Contains(out, f) {
				return nil, Errorf(KindInvalid, "responseType lists '%s' twice.", f)
			}
			out = append(out, f)
		default:
			return nil, Errorf(KindInvalid, "responseType must be 'code', 'id_token' or 'token' (or a comma-separated combination).")
		}
	}
	return out, nil
}

func requireString(name, value string, max int) error {
	if strings.TrimSpace(value) == "" {
		return Errorf(KindInvalid, "%s is required and cannot be empty.", name)
	}
	if len(value) > max {
		return Errorf(KindInvalid, "%s must be at most %d characters.", name, max)
	}
	return nil
}

func requireSecret(name string, s Sealed) error {
	if !s.Set() {
		return Errorf(KindInvalid, "%s is required and cannot be empty.", name)
	}
	return nil
}

// validateHTTPSURL checks an absolute https URL without user information;
// query is whether a query string is allowed (an issuer has none).
func validateHTTPSURL(name, s string, query bool) error {
	if strings.TrimSpace(s) == "" {
		return Errorf(KindInvalid, "%s is required and cannot be empty.", name)
	}
	if len(s) > MaxPropertyLength {
		return Errorf(KindInvalid, "%s must be at most %d characters.", name, MaxPropertyLength)
	}
	u, err := url.Parse(s)
	if err != nil || !strings.EqualFold(u.Scheme, "https") || u.Host == "" || u.User != nil || u.Opaque != "" || u.Fragment != "" ||
		(!query && u.RawQuery != "") {
		if query {
			return Errorf(KindInvalid, "%s must be an absolute https URL without user information or fragment.", name)
		}
		return Errorf(KindInvalid, "%s must be an absolute https URL without user information, query or fragment.", name)
	}
	return nil
}
