package httpapi

import (
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// Wire shapes of the identityProviderBase family. None has a field that can
// carry a secret: secrets are written as the fixed masks (spec §3).
type socialProviderJSON struct {
	Context      string `json:"@odata.context,omitempty"`
	Type         string `json:"@odata.type"`
	ID           string `json:"id"`
	DisplayName  string `json:"displayName"`
	ProviderType string `json:"identityProviderType"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

type builtInProviderJSON struct {
	Context      string `json:"@odata.context,omitempty"`
	Type         string `json:"@odata.type"`
	ID           string `json:"id"`
	DisplayName  string `json:"displayName"`
	ProviderType string `json:"identityProviderType"`
}

// builtInProviderBetaJSON adds beta's state, null as Graph shows it.
type builtInProviderBetaJSON struct {
	builtInProviderJSON
	State *string `json:"state"`
}

type appleProviderJSON struct {
	Context         string `json:"@odata.context,omitempty"`
	Type            string `json:"@odata.type"`
	ID              string `json:"id"`
	DisplayName     string `json:"displayName"`
	DeveloperID     string `json:"developerId"`
	ServiceID       string `json:"serviceId"`
	KeyID           string `json:"keyId"`
	CertificateData string `json:"certificateData"`
}

type openIDConnectProviderJSON struct {
	Context       string               `json:"@odata.context,omitempty"`
	Type          string               `json:"@odata.type"`
	ID            string               `json:"id"`
	DisplayName   string               `json:"displayName"`
	ClientID      string               `json:"clientId"`
	ClientSecret  string               `json:"clientSecret"`
	ClaimsMapping *graph.ClaimsMapping `json:"claimsMapping"`
	DomainHint    string               `json:"domainHint"`
	MetadataURL   string               `json:"metadataUrl"`
	ResponseMode  string               `json:"responseMode"`
	ResponseType  string               `json:"responseType"`
	Scope         string               `json:"scope"`
}

type oidcProviderJSON struct {
	Context              string                     `json:"@odata.context,omitempty"`
	Type                 string                     `json:"@odata.type"`
	ID                   string                     `json:"id"`
	DisplayName          string                     `json:"displayName"`
	ClientID             string                     `json:"clientId"`
	Issuer               string                     `json:"issuer"`
	WellKnownEndpoint    string                     `json:"wellKnownEndpoint"`
	ResponseType         string                     `json:"responseType"`
	Scope                string                     `json:"scope"`
	ClientAuthentication any                        `json:"clientAuthentication"`
	InboundClaimMapping  *graph.InboundClaimMapping `json:"inboundClaimMapping"`
}

type oidcSecretAuthJSON struct {
	Type         string `json:"@odata.type"`
	ClientSecret string `json:"clientSecret"`
}

// renderProvider is the one place a stored provider becomes a body of the
// current API; context is "" inside collections.
func renderProvider(p graph.IdentityProvider, beta bool, context string) any {
	t := "#microsoft.graph." + p.ODataType
	switch p.ODataType {
	case graph.TypeSocialIdentityProvider:
		return socialProviderJSON{context, t, p.ID, p.DisplayName, p.ProviderType, p.ClientID, graph.MaskSix}
	case graph.TypeBuiltInIdentityProvider:
		b := builtInProviderJSON{context, t, p.ID, p.DisplayName, p.ProviderType}
		if beta {
			return builtInProviderBetaJSON{builtInProviderJSON: b}
		}
		return b
	case graph.TypeAppleManagedIdentityProvider:
		return appleProviderJSON{context, t, p.ID, p.DisplayName, p.DeveloperID, p.ServiceID, p.KeyID, graph.MaskSix}
	case graph.TypeOpenIDConnectIdentityProvider:
		return openIDConnectProviderJSON{context, t, p.ID, p.DisplayName, p.ClientID, graph.MaskSix, p.ClaimsMapping,
			p.DomainHint, p.MetadataURL, p.ResponseMode, p.ResponseType, p.Scope}
	case graph.TypeOIDCIdentityProvider:
		out := oidcProviderJSON{context, t, p.ID, p.DisplayName, p.ClientID, p.Issuer, p.WellKnownEndpoint, p.ResponseType, p.Scope,
			nil, p.InboundClaimMapping}
		if a := p.ClientAuth; a != nil {
			if a.Type == graph.OIDCClientSecret {
				out.ClientAuthentication = oidcSecretAuthJSON{"#microsoft.graph." + a.Type, graph.MaskFive}
			} else {
				out.ClientAuthentication = baseAuthJSON{"#microsoft.graph." + a.Type}
			}
		}
		return out
	}
	return builtInProviderJSON{context, t, p.ID, p.DisplayName, p.ProviderType}
}

func isBeta(r *http.Request) bool { return reqCtx(r).version == "beta" }

// tips is the instance annotation beta collections of this API carry.
const tips = "Use $select to choose only the properties your app needs, as this can lead to performance improvements. " +
	"For example: GET identity/identityProviders?$select=displayName"

func (s *Server) handleListIdentityProviders(w http.ResponseWriter, r *http.Request) {
	beta := isBeta(r)
	ls := listSpec{coll: store.IdentityProviders, context: s.contextURL(r, "identity/identityProviders"),
		render: func(rec store.Record) (any, error) {
			v, err := store.Decode[graph.IdentityProvider](rec)
			return renderProvider(v.Value, beta, ""), err
		}}
	if beta {
		ls.tips = tips
	} else {
		ls.visible = &store.Match{Field: odataTypeField, Op: store.Ne, Values: []store.Value{store.String(graph.TypeOpenIDConnectIdentityProvider)}}
	}
	s.writeList(w, r, ls)
}

// odataTypeField is the stored subtype of a provider.
var odataTypeField = store.Field{Name: "odataType"}

// getProvider loads a provider the current API shows in this version.
func (s *Server) getProvider(r *http.Request) (store.Versioned[graph.IdentityProvider], error) {
	rc := reqCtx(r)
	v, err := store.GetAs[graph.IdentityProvider](r.Context(), s.store, rc.tenant.ID, store.IdentityProviders, rc.id)
	if err == nil && !graph.ProviderVisible(v.Value.ODataType, isBeta(r)) {
		err = store.NotFound(rc.id)
	}
	return v, err
}

func (s *Server) providerEntity(r *http.Request, p graph.IdentityProvider) any {
	return renderProvider(p, isBeta(r), s.contextURL(r, "identity/identityProviders/$entity"))
}

func (s *Server) handleGetIdentityProvider(w http.ResponseWriter, r *http.Request) {
	v, err := s.getProvider(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeSelected(w, r, v.Version, s.providerEntity(r, v.Value))
}

// providerType reads the @odata.type of a body of the current API: a
// concrete subtype, matched case-insensitively, with or without "#".
func providerType(o object, required bool) (string, error) {
	t, ok, err := o.odataType()
	if err != nil {
		return "", err
	}
	if !ok {
		if required {
			return "", graph.Errorf(graph.KindInvalid, "@odata.type is required to create an identity provider: "+
				"#microsoft.graph.socialIdentityProvider, #microsoft.graph.appleManagedIdentityProvider, "+
				"#microsoft.graph.openIdConnectIdentityProvider or #microsoft.graph.oidcIdentityProvider.")
		}
		return "", nil
	}
	if typ, ok := graph.CanonicalProviderType(t); ok {
		return typ, nil
	}
	if strings.EqualFold(t, "identityProviderBase") {
		if required {
			return "", graph.Errorf(graph.KindInvalid, "identityProviderBase is abstract: send the @odata.type of a concrete identity provider type.")
		}
		return "", nil
	}
	return "", graph.Errorf(graph.KindInvalid, "The @odata.type '%s' is not an identity provider type.", t)
}

// checkWritable refuses a subtype the tenant cannot create in this version.
func checkWritable(kind graph.TenantKind, typ string, beta bool) error {
	if typ == graph.TypeBuiltInIdentityProvider {
		return graph.Errorf(graph.KindInvalid, "Built-in identity providers cannot be created, updated or deleted.")
	}
	if !graph.ProviderWritable(kind, typ, beta) {
		return graph.Errorf(graph.KindInvalid, "Identity providers of type '%s' are not supported in a %s tenant through this API version. Supported: %s.",
			typ, kind, strings.Join(graph.WritableProviderTypes(kind, beta), ", "))
	}
	return nil
}

// newProviderID assigns the id of a new provider (spec §1.7 id formats).
func newProviderID(p graph.IdentityProvider) string {
	switch p.ODataType {
	case graph.TypeSocialIdentityProvider:
		return graph.SocialProviderID(p.ProviderType)
	case graph.TypeAppleManagedIdentityProvider:
		return graph.AppleManagedProviderID
	case graph.TypeOpenIDConnectIdentityProvider:
		return graph.OpenIDConnectProviderID(p.DisplayName, p.ClientID)
	}
	return uuid.NewString()
}

// createProvider validates and stores a new provider decoded from body b;
// the caller renders it.
func (s *Server) createProvider(r *http.Request, typ string, b providerBody, v graph.View) (store.Versioned[graph.IdentityProvider], error) {
	rc := reqCtx(r)
	p := graph.IdentityProvider{ODataType: typ}
	if err := b.apply(&p); err != nil {
		return store.Versioned[graph.IdentityProvider]{}, err
	}
	p.ID = newProviderID(p)
	seal, err := s.sealSecrets(rc.tenant.ID, p.ID, b)
	if err == nil {
		err = seal(&p)
	}
	if err == nil {
		err = p.Validate(rc.tenant.Kind, v)
	}
	if err != nil {
		return store.Versioned[graph.IdentityProvider]{}, err
	}
	out, err := store.CreateAs(r.Context(), s.store, rc.tenant.ID, store.IdentityProviders, p.ID, p)
	if graph.KindOf(err) == graph.KindConflict {
		msg := "An identity provider with id '" + p.ID + "' already exists in this tenant."
		switch typ {
		case graph.TypeSocialIdentityProvider:
			msg = "An identity provider of type '" + p.ProviderType + "' already exists in this tenant (id '" + p.ID + "')."
		case graph.TypeAppleManagedIdentityProvider:
			msg = "This tenant already has an Apple identity provider (id '" + p.ID + "')."
		}
		err = &graph.Error{Kind: graph.KindConflict, Code: "Request_MultipleObjectsWithSameKeyValue", Message: msg, Err: err}
	}
	return out, err
}

func (s *Server) handleCreateIdentityProvider(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	v, err := s.createCurrent(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", s.graphRoot+"/"+rc.version+"/identity/identityProviders/"+v.Value.ID)
	writeEntity(w, http.StatusCreated, v.Version, s.providerEntity(r, v.Value))
}

func (s *Server) createCurrent(w http.ResponseWriter, r *http.Request) (store.Versioned[graph.IdentityProvider], error) {
	rc := reqCtx(r)
	var none store.Versioned[graph.IdentityProvider]
	o, err := readObject(w, r)
	if err != nil {
		return none, err
	}
	typ, err := providerType(o, true)
	if err != nil {
		return none, err
	}
	if err := checkWritable(rc.tenant.Kind, typ, isBeta(r)); err != nil {
		return none, err
	}
	if err := o.checkID(""); err != nil {
		return none, err
	}
	b, err := decodeProvider(o, typ, rc.tenant.Kind, graph.ViewCurrent, nil)
	if err != nil {
		return none, err
	}
	return s.createProvider(r, typ, b, graph.ViewCurrent)
}

// updateProvider applies a PATCH body to the provider at the request's id,
// as view v shows it (visible decides which providers the view has).
func (s *Server) updateProvider(w http.ResponseWriter, r *http.Request, v graph.View, visible func(graph.IdentityProvider) bool,
	decode func(o object, cur graph.IdentityProvider) (providerBody, error)) (store.Versioned[graph.IdentityProvider], error) {
	rc := reqCtx(r)
	var none store.Versioned[graph.IdentityProvider]
	cur, err := store.GetRead[graph.IdentityProvider](r.Context(), s.store, rc.tenant.ID, store.IdentityProviders, rc.id)
	if err == nil && !visible(cur.Value) {
		err = store.NotFound(rc.id)
	}
	if err != nil {
		return none, err
	}
	o, err := readObject(w, r)
	if err != nil {
		return none, err
	}
	b, err := decode(o, cur.Value)
	if err != nil {
		return none, err
	}
	// Bound to the id case-insensitively, so the path's spelling will do.
	seal, err := s.sealSecrets(rc.tenant.ID, rc.id, b)
	if err != nil {
		return none, err
	}
	// cur's value goes to the update (read below only for its type).
	typ := cur.Value.ODataType
	return store.UpdateRead(r.Context(), s.store, cur,
		func(_ store.Tx, now store.Versioned[graph.IdentityProvider]) (graph.IdentityProvider, error) {
			p := now.Value
			if !visible(p) {
				return p, store.NotFound(rc.id)
			}
			if p.ODataType != typ {
				return p, &graph.Error{Kind: graph.KindConflict, Code: "Request_MultipleObjectsWithSameKeyValue",
					Message: "The identity provider was replaced while this request ran; read it again."}
			}
			if err := checkIfMatch(r, now.Version); err != nil {
				return p, err
			}
			if err := b.apply(&p); err != nil {
				return p, err
			}
			if err := seal(&p); err != nil {
				return p, err
			}
			return p, p.Validate(rc.tenant.Kind, v)
		})
}

func (s *Server) handleUpdateIdentityProvider(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	beta := isBeta(r)
	v, err := s.updateProvider(w, r, graph.ViewCurrent,
		func(p graph.IdentityProvider) bool { return graph.ProviderVisible(p.ODataType, beta) },
		func(o object, cur graph.IdentityProvider) (providerBody, error) {
			// @odata.type may be sent; the stored type decides which
			// properties apply (the docs' Apple example sends the social type).
			if _, err := providerType(o, false); err != nil {
				return providerBody{}, err
			}
			if cur.ODataType == graph.TypeBuiltInIdentityProvider {
				return providerBody{}, graph.Errorf(graph.KindInvalid,
					"The built-in identity provider '%s' is read-only: it cannot be updated or deleted.", cur.ID)
			}
			if err := checkWritable(rc.tenant.Kind, cur.ODataType, beta); err != nil {
				return providerBody{}, err
			}
			if err := o.checkID(rc.id); err != nil {
				return providerBody{}, err
			}
			return decodeProvider(o, cur.ODataType, rc.tenant.Kind, graph.ViewCurrent, &cur)
		})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeUpdated(w, r, false, v.Version, func() any { return s.providerEntity(r, v.Value) })
}

// deleteProvider removes the provider at the request's id if view shows it,
// it is not built in, and no user flow offers it.
func (s *Server) deleteProvider(r *http.Request, visible func(graph.IdentityProvider) bool) error {
	rc := reqCtx(r)
	return s.store.Delete(r.Context(), rc.tenant.ID, store.IdentityProviders, rc.id, func(tx store.Tx, cur store.Record) error {
		v, err := store.Decode[graph.IdentityProvider](cur)
		if err != nil {
			return err
		}
		if !visible(v.Value) {
			return store.NotFound(rc.id)
		}
		if v.Value.ODataType == graph.TypeBuiltInIdentityProvider {
			return graph.Errorf(graph.KindInvalid, "The built-in identity provider '%s' is read-only: it cannot be updated or deleted.", v.Value.ID)
		}
		if err := checkIfMatch(r, cur.Version); err != nil {
			return err
		}
		return checkUnreferenced(tx, rc.tenant.ID, func(f *graph.UserFlow) (string, bool) {
			return "offers it as an identity provider", f.UsesProvider(v.Value.ID)
		}, "identity provider", v.Value.ID)
	})
}

func (s *Server) handleDeleteIdentityProvider(w http.ResponseWriter, r *http.Request) {
	beta := isBeta(r)
	err := s.deleteProvider(r, func(p graph.IdentityProvider) bool { return graph.ProviderVisible(p.ODataType, beta) })
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeNoContent(w, 0)
}

func (s *Server) handleAvailableProviderTypes(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	writeJSONBody(w, http.StatusOK, collection{Context: s.contextURL(r, "Collection(Edm.String)"),
		Value: graph.AvailableProviderTypes(rc.tenant.Kind)})
}

// checkUnreferenced refuses to delete an object a user flow uses, naming the
// flow (nothing dangles; the caller detaches it first).
func checkUnreferenced(tx store.Tx, tenant string, uses func(f *graph.UserFlow) (string, bool), what, id string) error {
	rs, err := tx.List(tenant, store.UserFlows)
	if err != nil {
		return err
	}
	for _, rec := range rs {
		f, err := store.Decode[graph.UserFlow](rec)
		if err != nil {
			return err
		}
		if how, ok := uses(&f.Value); ok {
			return graph.Errorf(graph.KindInvalid, "The %s '%s' cannot be deleted: the user flow '%s' %s. Remove it from the user flow first.",
				what, id, f.Value.ID, how)
		}
	}
	return nil
}
