package httpapi

import (
	"net/http"
	"strings"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// identityProviderJSON is the deprecated identityProvider wire shape. On
// v1.0 it carries no annotations, as the reference pages show; on beta items
// carry @odata.type without "#", as the beta pages show.
type identityProviderJSON struct {
	Context      string `json:"@odata.context,omitempty"`
	Type         string `json:"@odata.type,omitempty"`
	ID           string `json:"id"`
	Name         string `json:"name"`
	ProviderType string `json:"type"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// openIDConnectProviderDeprecatedJSON is beta's openIdConnectProvider.
type openIDConnectProviderDeprecatedJSON struct {
	identityProviderJSON
	ClaimsMapping *graph.ClaimsMapping `json:"claimsMapping"`
	DomainHint    string               `json:"domainHint"`
	MetadataURL   string               `json:"metadataUrl"`
	ResponseMode  string               `json:"responseMode"`
	ResponseType  string               `json:"responseType"`
	Scope         string               `json:"scope"`
}

// deprecatedVisible reports whether the deprecated API shows p in this
// version: social providers, and on beta OpenID Connect providers of B2C
// tenants (openIdConnectProvider).
func deprecatedVisible(p graph.IdentityProvider, beta bool) bool {
	return p.ODataType == graph.TypeSocialIdentityProvider || (beta && p.ODataType == graph.TypeOpenIDConnectIdentityProvider)
}

// renderDeprecated is the one place a provider becomes a deprecated-API body.
func renderDeprecated(p graph.IdentityProvider, beta bool, context string) any {
	out := identityProviderJSON{Context: context, ID: p.ID, Name: p.DisplayName, ProviderType: p.ProviderType, ClientID: p.ClientID, ClientSecret: graph.MaskFive}
	if p.ODataType == graph.TypeOpenIDConnectIdentityProvider {
		out.Type, out.ProviderType = "microsoft.graph.openIdConnectProvider", graph.OpenIDConnectType
		return openIDConnectProviderDeprecatedJSON{identityProviderJSON: out, ClaimsMapping: p.ClaimsMapping, DomainHint: p.DomainHint,
			MetadataURL: p.MetadataURL, ResponseMode: p.ResponseMode, ResponseType: p.ResponseType, Scope: p.Scope}
	}
	if beta {
		out.Type = "microsoft.graph.identityProvider"
	}
	return out
}

func (s *Server) deprecatedEntity(r *http.Request, p graph.IdentityProvider) any {
	ctx := ""
	if isBeta(r) {
		ctx = s.contextURL(r, "identityProviders/$entity")
	}
	return renderDeprecated(p, isBeta(r), ctx)
}

func (s *Server) deprecatedContext(r *http.Request, fragment string) string {
	if isBeta(r) {
		return s.contextURL(r, fragment)
	}
	return ""
}

func (s *Server) handleListDeprecatedIdentityProviders(w http.ResponseWriter, r *http.Request) {
	s.writeList(w, r, s.deprecatedList(r, s.deprecatedContext(r, "identityProviders"), nil))
}

// deprecatedList reads providers in the deprecated view: social providers,
// and on beta OpenID Connect providers (deprecatedVisible), narrowed by
// and when not nil.
func (s *Server) deprecatedList(r *http.Request, context string, and store.Cond) listSpec {
	beta := isBeta(r)
	var visible store.Cond = &store.Match{Field: odataTypeField, Op: store.Eq, Values: []store.Value{store.String(graph.TypeSocialIdentityProvider)}}
	if beta {
		visible = &store.Match{Field: odataTypeField, Op: store.In,
			Values: []store.Value{store.String(graph.TypeSocialIdentityProvider), store.String(graph.TypeOpenIDConnectIdentityProvider)}}
	}
	if and != nil {
		visible = &store.And{L: visible, R: and}
	}
	return listSpec{coll: store.IdentityProviders, visible: visible, context: context,
		render: func(rec store.Record) (any, error) {
			v, err := store.Decode[graph.IdentityProvider](rec)
			return renderDeprecated(v.Value, beta, ""), err
		}}
}

func (s *Server) handleGetDeprecatedIdentityProvider(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	v, err := store.GetAs[graph.IdentityProvider](r.Context(), s.store, rc.tenant.ID, store.IdentityProviders, rc.id)
	if err == nil && !deprecatedVisible(v.Value, isBeta(r)) {
		err = store.NotFound(rc.id)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeSelected(w, r, v.Version, s.deprecatedEntity(r, v.Value))
}

// deprecatedBodyType reads the @odata.type of a deprecated-API body:
// identityProvider, or on beta openIdConnectProvider. It returns the subtype
// the body writes ("" when the body does not say).
func deprecatedBodyType(o object, beta bool) (string, error) {
	t, ok, err := o.odataType()
	if err != nil || !ok {
		return "", err
	}
	switch {
	case strings.EqualFold(t, "identityProvider"):
		return "", nil
	case beta && strings.EqualFold(t, "openIdConnectProvider"):
		return graph.TypeOpenIDConnectIdentityProvider, nil
	}
	if beta {
		return "", graph.Errorf(graph.KindInvalid, "The @odata.type '%s' is not supported here: the body must be an identityProvider or an openIdConnectProvider.", t)
	}
	return "", graph.Errorf(graph.KindInvalid, "The @odata.type '%s' is not supported here: the body must be an identityProvider.", t)
}

func (s *Server) handleCreateDeprecatedIdentityProvider(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	v, err := s.createDeprecated(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", s.graphRoot+"/"+rc.version+"/identityProviders/"+v.Value.ID)
	writeEntity(w, http.StatusCreated, v.Version, s.deprecatedEntity(r, v.Value))
}

func (s *Server) createDeprecated(w http.ResponseWriter, r *http.Request) (store.Versioned[graph.IdentityProvider], error) {
	rc := reqCtx(r)
	beta := isBeta(r)
	var none store.Versioned[graph.IdentityProvider]
	o, err := readObject(w, r)
	if err != nil {
		return none, err
	}
	typ, err := deprecatedBodyType(o, beta)
	if err != nil {
		return none, err
	}
	if typ == "" {
		typ = graph.TypeSocialIdentityProvider
		if beta && strings.EqualFold(o.peekStr("type"), graph.OpenIDConnectType) {
			typ = graph.TypeOpenIDConnectIdentityProvider
		}
	}
	if typ == graph.TypeOpenIDConnectIdentityProvider && !graph.ProviderWritable(rc.tenant.Kind, typ, beta) {
		return none, graph.Errorf(graph.KindInvalid, "OpenID Connect providers are supported in Azure AD B2C tenants only.")
	}
	if err := o.checkID(""); err != nil {
		return none, err
	}
	required := []string{"name", "type", "clientId", "clientSecret"}
	for _, name := range required {
		if !o.has(name) {
			return none, graph.Errorf(graph.KindInvalid, "%s is required.", name)
		}
	}
	if typ == graph.TypeSocialIdentityProvider {
		if t := o.peekStr("type"); t != "" {
			if _, ok := graph.CanonicalSocialType(rc.tenant.Kind, t); !ok {
				return none, graph.Errorf(graph.KindInvalid, "Identity provider type '%s' is not supported in this tenant. Supported types: %s.",
					t, strings.Join(graph.SocialTypes(rc.tenant.Kind), ", "))
			}
		}
	}
	b, err := decodeProvider(o, typ, rc.tenant.Kind, graph.ViewDeprecated, nil)
	if err != nil {
		return none, err
	}
	return s.createProvider(r, typ, b, graph.ViewDeprecated)
}

func (s *Server) handleUpdateDeprecatedIdentityProvider(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	beta := isBeta(r)
	v, err := s.updateProvider(w, r, graph.ViewDeprecated,
		func(p graph.IdentityProvider) bool { return deprecatedVisible(p, beta) },
		func(o object, cur graph.IdentityProvider) (providerBody, error) {
			typ, err := deprecatedBodyType(o, beta)
			if err != nil {
				return providerBody{}, err
			}
			if typ != "" && typ != cur.ODataType {
				return providerBody{}, graph.Errorf(graph.KindInvalid, "The @odata.type of an identity provider cannot be changed.")
			}
			if err := o.checkID(rc.id); err != nil {
				return providerBody{}, err
			}
			return decodeProvider(o, cur.ODataType, rc.tenant.Kind, graph.ViewDeprecated, &cur)
		})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeUpdated(w, r, false, v.Version, func() any { return s.deprecatedEntity(r, v.Value) })
}

func (s *Server) handleDeleteDeprecatedIdentityProvider(w http.ResponseWriter, r *http.Request) {
	beta := isBeta(r)
	if err := s.deleteProvider(r, func(p graph.IdentityProvider) bool { return deprecatedVisible(p, beta) }); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeNoContent(w, 0)
}

func (s *Server) handleDeprecatedAvailableProviderTypes(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	writeJSONBody(w, http.StatusOK, collection{Context: s.deprecatedContext(r, "Collection(Edm.String)"),
		Value: graph.DeprecatedAvailableProviderTypes(rc.tenant.Kind)})
}
