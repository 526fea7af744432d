package httpapi

import (
	"encoding/json"
	"strings"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/secret"
	"github.com/idgraph/idgraph/internal/store"
)

// providerBody is a decoded identity-provider body, in either view: the
// changes it makes, and the secrets it sends, sealed once the provider's id
// is known (sealing binds a secret to its object).
type providerBody struct {
	edits   []func(p *graph.IdentityProvider) error
	secrets []pendingSecret
}

type pendingSecret struct {
	field string // "clientSecret", "certificateData" or "clientAuthentication.clientSecret"
	value string
}

// apply runs the body's changes on p.
func (b *providerBody) apply(p *graph.IdentityProvider) error {
	for _, e := range b.edits {
		if err := e(p); err != nil {
			return err
		}
	}
	return nil
}

func (b *providerBody) edit(e func(p *graph.IdentityProvider) error) { b.edits = append(b.edits, e) }

// decodeProvider decodes the properties of subtype typ from o, naming them
// as view v does; o's @odata.type and id were taken already. stored is the
// provider being patched, nil on create.
func decodeProvider(o object, typ string, kind graph.TenantKind, v graph.View, stored *graph.IdentityProvider) (providerBody, error) {
	var b providerBody
	d := providerDecoder{o: o, b: &b}
	nameProp, typeProp := "displayName", "identityProviderType"
	if v == graph.ViewDeprecated {
		nameProp, typeProp = "name", "type"
	}
	d.str(nameProp, func(p *graph.IdentityProvider, s string) { p.DisplayName = s })
	switch typ {
	case graph.TypeSocialIdentityProvider:
		if s, ok := d.take(typeProp); ok {
			b.edit(func(p *graph.IdentityProvider) error {
				if stored != nil {
					if !strings.EqualFold(s, stored.ProviderType) {
						return graph.Errorf(graph.KindInvalid, "The %s of an identity provider cannot be changed (it is '%s').", typeProp, stored.ProviderType)
					}
					return nil
				}
				p.ProviderType = s
				if c, ok := graph.CanonicalSocialType(kind, s); ok {
					p.ProviderType = c
				}
				return nil
			})
		}
		d.str("clientId", func(p *graph.IdentityProvider, s string) { p.ClientID = s })
		d.secret("clientSecret")
	case graph.TypeAppleManagedIdentityProvider:
		d.str("developerId", func(p *graph.IdentityProvider, s string) { p.DeveloperID = s })
		d.str("serviceId", func(p *graph.IdentityProvider, s string) { p.ServiceID = s })
		d.str("keyId", func(p *graph.IdentityProvider, s string) { p.KeyID = s })
		// certificateData is required on create but "can be null"; the docs'
		// create example sends the mask, which stores nothing.
		if stored == nil && !d.o.has("certificateData") {
			d.fail(graph.Errorf(graph.KindInvalid, "certificateData is required: the Apple private key (.p8 contents), or null."))
		}
		if raw, ok := d.o.m["certificateData"]; ok && strings.TrimSpace(string(raw)) == "null" {
			delete(d.o.m, "certificateData")
			b.edit(func(p *graph.IdentityProvider) error { p.CertificateData = nil; return nil })
		}
		d.secret("certificateData")
	case graph.TypeOpenIDConnectIdentityProvider:
		if v == graph.ViewDeprecated {
			if s, ok := d.take("type"); ok && !strings.EqualFold(s, graph.OpenIDConnectType) {
				d.fail(graph.Errorf(graph.KindInvalid, "The type of an openIdConnectProvider is '%s'.", graph.OpenIDConnectType))
			}
		}
		d.str("clientId", func(p *graph.IdentityProvider, s string) { p.ClientID = s })
		d.secret("clientSecret")
		d.claimsMapping()
		d.str("domainHint", func(p *graph.IdentityProvider, s string) { p.DomainHint = s })
		d.str("metadataUrl", func(p *graph.IdentityProvider, s string) { p.MetadataURL = s })
		d.str("responseMode", func(p *graph.IdentityProvider, s string) { p.ResponseMode = s })
		d.str("responseType", func(p *graph.IdentityProvider, s string) { p.ResponseType = s })
		d.str("scope", func(p *graph.IdentityProvider, s string) { p.Scope = s })
	case graph.TypeOIDCIdentityProvider:
		d.str("clientId", func(p *graph.IdentityProvider, s string) { p.ClientID = s })
		d.str("issuer", func(p *graph.IdentityProvider, s string) { p.Issuer = s })
		d.str("wellKnownEndpoint", func(p *graph.IdentityProvider, s string) { p.WellKnownEndpoint = s })
		d.str("responseType", func(p *graph.IdentityProvider, s string) { p.ResponseType = s })
		d.str("scope", func(p *graph.IdentityProvider, s string) { p.Scope = s })
		d.clientAuthentication()
		d.inboundClaimMapping()
	default:
		return b, graph.Errorf(graph.KindInvalid, "Identity provider type '%s' cannot be written.", typ)
	}
	if d.err != nil {
		return b, d.err
	}
	return b, o.rest(wireTypeName(typ, v))
}

// wireTypeName is the type a body is read as, for messages.
func wireTypeName(typ string, v graph.View) string {
	if v == graph.ViewDeprecated {
		if typ == graph.TypeOpenIDConnectIdentityProvider {
			return "openIdConnectProvider"
		}
		return "identityProvider"
	}
	return typ
}

// providerDecoder takes members one by one and remembers the first error.
type providerDecoder struct {
	o   object
	b   *providerBody
	err error
}

func (d *providerDecoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *providerDecoder) take(name string) (string, bool) {
	s, ok, err := d.o.str(name)
	if err != nil {
		d.fail(err)
		return "", false
	}
	return s, ok
}

func (d *providerDecoder) str(name string, set func(p *graph.IdentityProvider, s string)) {
	if s, ok := d.take(name); ok {
		d.b.edit(func(p *graph.IdentityProvider) error { set(p, s); return nil })
	}
}

// secret takes a write-only member; a mask means "unchanged" (decision D6).
func (d *providerDecoder) secret(name string) {
	s, ok, err := d.o.secret(name)
	switch {
	case err != nil:
		d.fail(err)
	case ok && s == "":
		d.fail(graph.Errorf(graph.KindInvalid, "%s%s cannot be empty.", d.o.path, name))
	case ok:
		d.b.secrets = append(d.b.secrets, pendingSecret{field: d.o.path + name, value: s})
	}
}

func (d *providerDecoder) claimsMapping() {
	o, ok, err := d.o.obj("claimsMapping")
	if err != nil || !ok {
		d.fail(err)
		return
	}
	var m graph.ClaimsMapping
	for _, f := range []struct {
		name string
		dst  *string
	}{{"userId", &m.UserID}, {"givenName", &m.GivenName}, {"surname", &m.Surname}, {"email", &m.Email}, {"displayName", &m.DisplayName}} {
		s, _, err := o.str(f.name)
		if err != nil {
			d.fail(err)
			return
		}
		*f.dst = s
	}
	if err := o.rest("claimsMapping"); err != nil {
		d.fail(err)
		return
	}
	d.b.edit(func(p *graph.IdentityProvider) error { p.ClaimsMapping = &m; return nil })
}

func (d *providerDecoder) clientAuthentication() {
	o, ok, err := d.o.obj("clientAuthentication")
	if err != nil || !ok {
		d.fail(err)
		return
	}
	t, ok, err := o.odataType()
	if err != nil {
		d.fail(err)
		return
	}
	var typ string
	switch {
	case ok && strings.EqualFold(t, graph.OIDCClientSecret):
		typ = graph.OIDCClientSecret
		inner := providerDecoder{o: o, b: d.b}
		inner.secret("clientSecret")
		d.fail(inner.err)
	case ok && strings.EqualFold(t, graph.OIDCPrivateJWTKey):
		typ = graph.OIDCPrivateJWTKey
	default:
		d.fail(graph.Errorf(graph.KindInvalid,
			"clientAuthentication needs an @odata.type: #microsoft.graph.oidcClientSecretAuthentication or #microsoft.graph.oidcPrivateJwtKeyClientAuthentication."))
		return
	}
	if err := o.rest(typ); err != nil {
		d.fail(err)
		return
	}
	d.b.edit(func(p *graph.IdentityProvider) error {
		next := &graph.OIDCClientAuth{Type: typ}
		// The same kind of authentication without a new secret keeps the old one.
		if p.ClientAuth != nil && p.ClientAuth.Type == typ {
			next.ClientSecret = p.ClientAuth.ClientSecret
		}
		p.ClientAuth = next
		return nil
	})
}

func (d *providerDecoder) inboundClaimMapping() {
	o, ok, err := d.o.obj("inboundClaimMapping")
	if err != nil || !ok {
		d.fail(err)
		return
	}
	var m graph.InboundClaimMapping
	for _, f := range []struct {
		name string
		dst  **string
	}{{"sub", &m.Sub}, {"name", &m.Name}, {"given_name", &m.GivenName}, {"family_name", &m.FamilyName}, {"email", &m.Email},
		{"email_verified", &m.EmailVerified}, {"phone_number", &m.PhoneNumber}, {"phone_number_verified", &m.PhoneNumberVerified}} {
		if d.fail(o.nullableStr(f.name, f.dst)); d.err != nil {
			return
		}
	}
	if a, ok, err := o.obj("address"); err != nil {
		d.fail(err)
		return
	} else if ok {
		var addr graph.AddressClaims
		for _, f := range []struct {
			name string
			dst  **string
		}{{"street_address", &addr.StreetAddress}, {"locality", &addr.Locality}, {"region", &addr.Region},
			{"postal_code", &addr.PostalCode}, {"country", &addr.Country}} {
			if d.fail(a.nullableStr(f.name, f.dst)); d.err != nil {
				return
			}
		}
		if err := a.rest("oidcAddressInboundClaims"); err != nil {
			d.fail(err)
			return
		}
		m.Address = &addr
	}
	if err := o.rest("oidcInboundClaimMappingOverride"); err != nil {
		d.fail(err)
		return
	}
	d.b.edit(func(p *graph.IdentityProvider) error { p.InboundClaimMapping = &m; return nil })
}

// nullableStr takes a member that is a string or null.
func (o object) nullableStr(name string, dst **string) error {
	raw, ok := o.m[name]
	if ok && strings.TrimSpace(string(raw)) == "null" {
		delete(o.m, name)
		*dst = nil
		return nil
	}
	s, ok, err := o.str(name)
	if err != nil || !ok {
		return err
	}
	*dst = &s
	return nil
}

// peekStr reads a string member without taking it ("" if absent or not a
// string).
func (o object) peekStr(name string) string {
	var s string
	if raw, ok := o.m[name]; ok {
		json.Unmarshal(raw, &s)
	}
	return s
}

// sealSecrets seals a body's secrets for provider id and returns the edit
// that stores them.
func (s *Server) sealSecrets(tenant, id string, b providerBody) (func(p *graph.IdentityProvider) error, error) {
	type sealedSecret struct {
		field  string
		sealed graph.Sealed
	}
	var out []sealedSecret
	for _, ps := range b.secrets {
		sealed, err := s.keys.Seal([]byte(ps.value), secret.AAD(tenant, string(store.IdentityProviders), id, ps.field))
		if err != nil {
			return nil, err
		}
		out = append(out, sealedSecret{ps.field, sealed})
	}
	return func(p *graph.IdentityProvider) error {
		for _, x := range out {
			switch x.field {
			case "clientSecret":
				p.ClientSecret = x.sealed
			case "certificateData":
				p.CertificateData = x.sealed
			case "clientAuthentication.clientSecret":
				if p.ClientAuth == nil || p.ClientAuth.Type != graph.OIDCClientSecret {
					return graph.Errorf(graph.KindInvalid, "clientAuthentication.clientSecret needs an oidcClientSecretAuthentication.")
				}
				p.ClientAuth.ClientSecret = x.sealed
			}
		}
		return nil
	}, nil
}
