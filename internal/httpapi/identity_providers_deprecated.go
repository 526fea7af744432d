package httpapi

import (
	"net/http"
	"strings"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/secret"
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

// deprecatedView reports whether the deprecated API shows p: it shows social
// providers only.
func deprecatedView(p graph.IdentityProvider) bool {
	return p.ODataType == graph.TypeSocialIdentityProvider
}

// renderDeprecated is the one place a provider becomes a deprecated-API body.
func renderDeprecated(r *http.Request, p graph.IdentityProvider) identityProviderJSON {
	out := identityProviderJSON{ID: p.ID, Name: p.DisplayName, ProviderType: p.ProviderType, ClientID: p.ClientID, ClientSecret: graph.MaskFive}
	if reqCtx(r).version == "beta" {
		out.Type = "microsoft.graph.identityProvider"
	}
	return out
}

func (s *Server) deprecatedEntity(r *http.Request, p graph.IdentityProvider) identityProviderJSON {
	out := renderDeprecated(r, p)
	if reqCtx(r).version == "beta" {
		out.Context = s.contextURL(r, "identityProviders/$entity")
	}
	return out
}

func (s *Server) deprecatedContext(r *http.Request, fragment string) string {
	if reqCtx(r).version == "beta" {
		return s.contextURL(r, fragment)
	}
	return ""
}

func (s *Server) handleListDeprecatedIdentityProviders(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	vs, err := store.ListAs[graph.IdentityProvider](r.Context(), s.store, rc.tenant.ID, store.IdentityProviders)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items := []identityProviderJSON{}
	for _, v := range vs {
		if deprecatedView(v.Value) {
			items = append(items, renderDeprecated(r, v.Value))
		}
	}
	writeJSONBody(w, http.StatusOK, collection{Context: s.deprecatedContext(r, "identityProviders"), Value: items})
}

// getDeprecated loads a provider that the deprecated view shows.
func (s *Server) getDeprecated(r *http.Request) (store.Versioned[graph.IdentityProvider], error) {
	rc := reqCtx(r)
	v, err := store.GetAs[graph.IdentityProvider](r.Context(), s.store, rc.tenant.ID, store.IdentityProviders, rc.id)
	if err == nil && !deprecatedView(v.Value) {
		err = store.NotFound(rc.id)
	}
	return v, err
}

func (s *Server) handleGetDeprecatedIdentityProvider(w http.ResponseWriter, r *http.Request) {
	v, err := s.getDeprecated(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeEntity(w, http.StatusOK, v.Version, s.deprecatedEntity(r, v.Value))
}

// providerPatch is a decoded deprecated-API body, without its secret.
type providerPatch struct {
	name, providerType, clientID *string
}

// decodeDeprecated decodes an identityProvider body. The secret is sealed for
// the provider id, which for social providers follows from the type; sealing
// waits until the id is known (seal).
func decodeDeprecated(w http.ResponseWriter, r *http.Request, pathID string) (providerPatch, *string, error) {
	var p providerPatch
	o, err := readObject(w, r)
	if err != nil {
		return p, nil, err
	}
	if t, ok, err := o.odataType(); err != nil {
		return p, nil, err
	} else if ok && !strings.EqualFold(t, "identityProvider") {
		return p, nil, graph.Errorf(graph.KindInvalid, "The @odata.type '%s' is not supported here: the body must be an identityProvider.", t)
	}
	if err := o.checkID(pathID); err != nil {
		return p, nil, err
	}
	fields := []struct {
		name string
		dst  **string
	}{{"name", &p.name}, {"type", &p.providerType}, {"clientId", &p.clientID}}
	for _, f := range fields {
		v, ok, err := o.str(f.name)
		if err != nil {
			return p, nil, err
		}
		if ok {
			*f.dst = &v
		}
	}
	secretValue, ok, err := o.secret("clientSecret")
	if err != nil {
		return p, nil, err
	}
	if err := o.rest("identityProvider"); err != nil {
		return p, nil, err
	}
	if ok {
		if secretValue == "" {
			return p, nil, graph.Errorf(graph.KindInvalid, "clientSecret cannot be empty.")
		}
		return p, &secretValue, nil
	}
	return p, nil, nil
}

func (s *Server) sealClientSecret(tenant, id, value string) (graph.Sealed, error) {
	return s.keys.Seal([]byte(value), secret.AAD(tenant, string(store.IdentityProviders), id, "clientSecret"))
}

func (s *Server) handleCreateDeprecatedIdentityProvider(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	p, secretValue, err := decodeDeprecated(w, r, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, req := range []struct {
		name string
		v    *string
	}{{"name", p.name}, {"type", p.providerType}, {"clientId", p.clientID}, {"clientSecret", secretValue}} {
		if req.v == nil {
			s.writeError(w, r, graph.Errorf(graph.KindInvalid, "%s is required.", req.name))
			return
		}
	}
	typ, ok := graph.CanonicalSocialType(rc.tenant.Kind, *p.providerType)
	if !ok {
		s.writeError(w, r, graph.Errorf(graph.KindInvalid, "Identity provider type '%s' is not supported in this tenant. Supported types: %s.",
			*p.providerType, strings.Join(graph.SocialTypes(rc.tenant.Kind), ", ")))
		return
	}
	ip := graph.IdentityProvider{ID: graph.SocialProviderID(typ), ODataType: graph.TypeSocialIdentityProvider,
		DisplayName: *p.name, ProviderType: typ, ClientID: *p.clientID}
	if ip.ClientSecret, err = s.sealClientSecret(rc.tenant.ID, ip.ID, *secretValue); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := ip.Validate(rc.tenant.Kind, graph.ViewDeprecated); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := store.CreateAs(r.Context(), s.store, rc.tenant.ID, store.IdentityProviders, ip.ID, ip)
	if graph.KindOf(err) == graph.KindConflict {
		err = &graph.Error{Kind: graph.KindConflict, Code: "Request_MultipleObjectsWithSameKeyValue",
			Message: "An identity provider of type '" + typ + "' already exists in this tenant (id '" + ip.ID + "').", Err: err}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", s.graphRoot+"/"+rc.version+"/identityProviders/"+ip.ID)
	writeEntity(w, http.StatusCreated, v.Version, s.deprecatedEntity(r, v.Value))
}

func (s *Server) handleUpdateDeprecatedIdentityProvider(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	p, secretValue, err := decodeDeprecated(w, r, rc.id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var sealed graph.Sealed
	if secretValue != nil {
		// Bound to the id case-insensitively, so the path's spelling will do.
		if sealed, err = s.sealClientSecret(rc.tenant.ID, rc.id, *secretValue); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	v, err := store.UpdateAs(r.Context(), s.store, rc.tenant.ID, store.IdentityProviders, rc.id,
		func(_ store.Tx, cur store.Versioned[graph.IdentityProvider]) (graph.IdentityProvider, error) {
			ip := cur.Value
			if !deprecatedView(ip) {
				return ip, store.NotFound(rc.id)
			}
			if err := checkIfMatch(r, cur.Version); err != nil {
				return ip, err
			}
			if p.providerType != nil && !strings.EqualFold(*p.providerType, ip.ProviderType) {
				return ip, graph.Errorf(graph.KindInvalid, "The type of an identity provider cannot be changed (it is '%s').", ip.ProviderType)
			}
			if p.name != nil {
				ip.DisplayName = *p.name
			}
			if p.clientID != nil {
				ip.ClientID = *p.clientID
			}
			if sealed != nil {
				ip.ClientSecret = sealed
			}
			return ip, ip.Validate(rc.tenant.Kind, graph.ViewDeprecated)
		})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeUpdated(w, r, false, v.Version, func() any { return s.deprecatedEntity(r, v.Value) })
}

func (s *Server) handleDeleteDeprecatedIdentityProvider(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	err := s.store.Delete(r.Context(), rc.tenant.ID, store.IdentityProviders, rc.id, func(_ store.Tx, cur store.Record) error {
		v, err := store.Decode[graph.IdentityProvider](cur)
		if err != nil {
			return err
		}
		if !deprecatedView(v.Value) {
			return store.NotFound(rc.id)
		}
		return checkIfMatch(r, cur.Version)
	})
	if err != nil {
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
