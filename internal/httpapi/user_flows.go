package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// flowKind tells which user-flow collection the request addresses.
func flowKind(r *http.Request) graph.UserFlowKind {
	if f := reqCtx(r).route.family; f == famB2CFlows || f == famB2CFlowProviders {
		return graph.FlowB2C
	}
	return graph.FlowB2X
}

func flowCollection(k graph.UserFlowKind) string { return string(k) + "UserFlows" }

// checkFlowTenant refuses flows of a kind the tenant does not have:
// b2xUserFlows are self-service sign-up in workforce tenants, b2cUserFlows
// belong to Azure AD B2C tenants.
func checkFlowTenant(r *http.Request, k graph.UserFlowKind) error {
	rc := reqCtx(r)
	if rc.tenant.Kind != k.TenantKind() {
		return graph.Errorf(graph.KindInvalid, "%s are available in %s tenants only; this tenant is of kind %s.",
			flowCollection(k), k.TenantKind(), rc.tenant.Kind)
	}
	return nil
}

type userFlowJSON struct {
	Context             string  `json:"@odata.context,omitempty"`
	ID                  string  `json:"id"`
	UserFlowType        string  `json:"userFlowType"`
	UserFlowTypeVersion float64 `json:"userFlowTypeVersion"`
}

type b2cUserFlowJSON struct {
	userFlowJSON
	IsLanguageCustomizationEnabled bool   `json:"isLanguageCustomizationEnabled"`
	DefaultLanguageTag             string `json:"defaultLanguageTag"`
}

func renderFlow(f graph.UserFlow, context string) any {
	out := userFlowJSON{context, f.ID, f.UserFlowType, f.UserFlowTypeVersion}
	if f.Kind == graph.FlowB2C {
		return b2cUserFlowJSON{out, f.IsLanguageCustomizationEnabled, f.DefaultLanguageTag}
	}
	return out
}

func (s *Server) handleListUserFlows(w http.ResponseWriter, r *http.Request) {
	k := flowKind(r)
	if err := checkFlowTenant(r, k); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeList(w, r, listSpec{coll: store.UserFlows, context: s.contextURL(r, "identity/"+flowCollection(k)),
		visible: &store.Match{Field: store.Field{Name: "kind"}, Op: store.Eq, Values: []store.Value{store.String(string(k))}},
		render: func(rec store.Record) (any, error) {
			v, err := store.Decode[graph.UserFlow](rec)
			return renderFlow(v.Value, ""), err
		}})
}

// getFlow loads the flow of the request's collection at the request's id.
func (s *Server) getFlow(r *http.Request) (store.Versioned[graph.UserFlow], error) {
	rc := reqCtx(r)
	k := flowKind(r)
	if err := checkFlowTenant(r, k); err != nil {
		return store.Versioned[graph.UserFlow]{}, err
	}
	v, err := store.GetAs[graph.UserFlow](r.Context(), s.store, rc.tenant.ID, store.UserFlows, rc.id)
	if err == nil && v.Value.Kind != k {
		err = store.NotFound(rc.id)
	}
	return v, err
}

func (s *Server) handleGetUserFlow(w http.ResponseWriter, r *http.Request) {
	v, err := s.getFlow(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeSelected(w, r, v.Version, renderFlow(v.Value, s.contextURL(r, "identity/"+flowCollection(v.Value.Kind)+"/$entity")))
}

func (s *Server) handleCreateUserFlow(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	k := flowKind(r)
	v, err := s.createFlow(w, r, k)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", s.graphRoot+"/"+rc.version+"/identity/"+flowCollection(k)+"('"+v.Value.ID+"')")
	writeEntity(w, http.StatusCreated, v.Version, renderFlow(v.Value, s.contextURL(r, "identity/"+flowCollection(k)+"/$entity")))
}

func (s *Server) createFlow(w http.ResponseWriter, r *http.Request, k graph.UserFlowKind) (store.Versioned[graph.UserFlow], error) {
	rc := reqCtx(r)
	var none store.Versioned[graph.UserFlow]
	if err := checkFlowTenant(r, k); err != nil {
		return none, err
	}
	o, err := readObject(w, r)
	if err != nil {
		return none, err
	}
	typeName := string(k) + "IdentityUserFlow"
	if t, ok, err := o.odataType(); err != nil {
		return none, err
	} else if ok && !strings.EqualFold(t, typeName) {
		return none, graph.Errorf(graph.KindInvalid, "The @odata.type '%s' is not valid here: the body must be a %s.", t, typeName)
	}
	name, ok, err := o.str("id")
	if err != nil {
		return none, err
	}
	if !ok {
		return none, graph.Errorf(graph.KindInvalid, "id is required: the name of the user flow (the %s prefix is added).", k.Prefix())
	}
	f := graph.UserFlow{Kind: k, APIConnectors: map[string]string{}}
	if f.ID, err = graph.UserFlowID(k, name); err != nil {
		return none, err
	}
	if t, ok, err := o.str("userFlowType"); err != nil {
		return none, err
	} else if !ok {
		return none, graph.Errorf(graph.KindInvalid, "userFlowType is required.")
	} else if c, known := graph.CanonicalUserFlowType(t); known {
		f.UserFlowType = c
	} else {
		f.UserFlowType = t
	}
	ver, ok, err := o.number("userFlowTypeVersion")
	if err != nil {
		return none, err
	}
	if !ok {
		return none, graph.Errorf(graph.KindInvalid, "userFlowTypeVersion is required.")
	}
	f.UserFlowTypeVersion = ver
	if k == graph.FlowB2C {
		f.DefaultLanguageTag = "en"
		if b, ok, err := o.boolean("isLanguageCustomizationEnabled"); err != nil {
			return none, err
		} else if ok {
			f.IsLanguageCustomizationEnabled = b
		}
		if t, ok, err := o.str("defaultLanguageTag"); err != nil {
			return none, err
		} else if ok && t != "" {
			f.DefaultLanguageTag = t
		}
	}
	beta := isBeta(r)
	var connectorRefs map[string]string
	if ac, ok, err := o.obj("apiConnectorConfiguration"); err != nil {
		return none, err
	} else if ok {
		if connectorRefs, err = decodeConnectorConfiguration(ac, beta); err != nil {
			return none, err
		}
	}
	var providerRefs []string
	if raw, ok := o.take("identityProviders"); ok {
		if providerRefs, err = decodeProviderList(raw); err != nil {
			return none, err
		}
	}
	for _, name := range []string{"languages", "userAttributeAssignments", "userFlowIdentityProviders"} {
		if o.has(name) {
			return none, graph.Errorf(graph.KindInvalid, "Property '%s' is not supported when creating a user flow.", name)
		}
	}
	if err := o.rest(typeName); err != nil {
		return none, err
	}
	if err := f.Validate(); err != nil {
		return none, err
	}
	// References are checked and the flow stored in one transaction: the
	// connectors and providers it names exist when it is committed.
	var runs store.Results[graph.UserFlow] // the function may run more than once
	rec, err := s.store.CreateFunc(r.Context(), rc.tenant.ID, store.UserFlows, f.ID, func(tx store.Tx) ([]byte, error) {
		next := f
		next.APIConnectors = map[string]string{}
		next.IdentityProviders = nil
		for _, step := range graph.Steps(beta) {
			id, ok := connectorRefs[step]
			if !ok {
				continue
			}
			cid, err := connectorRef(tx, rc.tenant.ID, id)
			if err != nil {
				return nil, err
			}
			next.APIConnectors[step] = cid
		}
		for _, id := range providerRefs {
			pid, err := s.flowProviderRef(tx, r, id)
			if err != nil {
				return nil, err
			}
			if !next.UsesProvider(pid) {
				next.IdentityProviders = append(next.IdentityProviders, pid)
			}
		}
		return runs.Add(next)
	})
	if graph.KindOf(err) == graph.KindConflict {
		return none, &graph.Error{Kind: graph.KindConflict, Code: "Request_MultipleObjectsWithSameKeyValue",
			Message: "A user flow with id '" + f.ID + "' already exists.", Err: err}
	}
	if err != nil {
		return none, err
	}
	stored, err := runs.Stored(rec)
	return store.Versioned[graph.UserFlow]{Value: stored, Version: rec.Version}, err
}

// decodeConnectorConfiguration reads a userFlowApiConnectorConfiguration
// sent on create: each step an object with an @odata.id naming a connector.
func decodeConnectorConfiguration(o object, beta bool) (map[string]string, error) {
	out := map[string]string{}
	for _, step := range graph.Steps(beta) {
		so, ok, err := o.obj(step)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		ref, ok, err := so.str("@odata.id")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, graph.Errorf(graph.KindInvalid, "%s%s needs an @odata.id naming an API connector.", o.path, step)
		}
		if err := so.rest("identityApiConnector"); err != nil {
			return nil, err
		}
		id, err := refID(ref, "identity/apiConnectors")
		if err != nil {
			return nil, err
		}
		out[step] = id
	}
	return out, o.rest("userFlowApiConnectorConfiguration")
}

// decodeProviderList reads identityProviders sent on create: objects whose
// id names a provider (the other identityProvider properties are ignored).
func decodeProviderList(raw json.RawMessage) ([]string, error) {
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, graph.Errorf(graph.KindInvalid, "Invalid value for property 'identityProviders': expected an array of identityProvider objects.")
	}
	var ids []string
	for _, m := range items {
		o := object{m: m, path: "identityProviders."}
		id, ok, err := o.str("id")
		if err != nil {
			return nil, err
		}
		if !ok || id == "" {
			return nil, graph.Errorf(graph.KindInvalid, "Each of identityProviders needs the id of an identity provider.")
		}
		for _, name := range []string{"@odata.type", "name", "type", "clientId"} {
			if _, _, err := o.str(name); err != nil {
				return nil, err
			}
		}
		if _, _, err := o.secret("clientSecret"); err != nil {
			return nil, err
		}
		if err := o.rest("identityProvider"); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// refID reads the key an @odata.id names: an absolute or relative URL whose
// path ends in {collection}/{id} (any host: clients write their own base
// URL), or a bare id.
func refID(ref, collection string) (string, error) {
	bad := graph.Errorf(graph.KindInvalid, "@odata.id '%s' does not name an object of %s.", ref, collection)
	if ref == "" {
		return "", bad
	}
	if !strings.Contains(ref, "/") {
		return ref, nil
	}
	u, err := url.Parse(ref)
	if err != nil {
		return "", bad
	}
	_, segs, err := splitPath(u.EscapedPath())
	if err != nil {
		return "", bad
	}
	want := strings.Split(collection, "/")
	// The first segment splitPath returns is the version; the rest must be
	// the collection and one key.
	if len(segs) != len(want)+1 {
		return "", bad
	}
	for i, w := range want {
		if !matchLiteral(segs[i], w) {
			return "", bad
		}
	}
	return segs[len(want)].value, nil
}

// connectorRef checks inside tx that a connector exists and returns its id
// as stored.
func connectorRef(tx store.Tx, tenant, id string) (string, error) {
	rec, err := tx.Get(tenant, store.APIConnectors, id)
	if graph.KindOf(err) == graph.KindNotFound {
		return "", graph.Errorf(graph.KindInvalid, "The API connector '%s' does not exist.", id)
	}
	return rec.ID, err
}

// flowProviderRef checks inside tx that a provider exists and can be offered
// by a user flow, and returns its id as stored.
func (s *Server) flowProviderRef(tx store.Tx, r *http.Request, id string) (string, error) {
	rc := reqCtx(r)
	rec, err := tx.Get(rc.tenant.ID, store.IdentityProviders, id)
	if graph.KindOf(err) == graph.KindNotFound {
		return "", graph.Errorf(graph.KindInvalid, "The identity provider '%s' does not exist.", id)
	}
	if err != nil {
		return "", err
	}
	p, err := store.Decode[graph.IdentityProvider](rec)
	if err != nil {
		return "", err
	}
	if !deprecatedVisible(p.Value, true) {
		return "", graph.Errorf(graph.KindInvalid, "The identity provider '%s' (%s) cannot be added to a user flow through this relationship.", rec.ID, p.Value.ODataType)
	}
	return rec.ID, nil
}

// updateFlow applies change to the flow of the request's collection at the
// request's id, after If-Match, inside one transaction.
func (s *Server) updateFlow(r *http.Request, k graph.UserFlowKind, change func(tx store.Tx, f *graph.UserFlow) error) (store.Versioned[graph.UserFlow], error) {
	rc := reqCtx(r)
	return store.UpdateAs(r.Context(), s.store, rc.tenant.ID, store.UserFlows, rc.id,
		func(tx store.Tx, cur store.Versioned[graph.UserFlow]) (graph.UserFlow, error) {
			f := cur.Value
			if f.Kind != k {
				return f, store.NotFound(rc.id)
			}
			if err := checkIfMatch(r, cur.Version); err != nil {
				return f, err
			}
			return f, change(tx, &f)
		})
}

func (s *Server) handleDeleteUserFlow(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	k := flowKind(r)
	if err := checkFlowTenant(r, k); err != nil {
		s.writeError(w, r, err)
		return
	}
	err := s.store.Delete(r.Context(), rc.tenant.ID, store.UserFlows, rc.id, func(_ store.Tx, cur store.Record) error {
		f, err := store.Decode[graph.UserFlow](cur)
		if err != nil {
			return err
		}
		if f.Value.Kind != k {
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

// connectorConfigurationContext is the @odata.context of a flow's
// apiConnectorConfiguration, with the expanded steps as Graph writes them.
func (s *Server) connectorConfigurationContext(r *http.Request, k graph.UserFlowKind, id string, expanded []string) string {
	frag := "identity/" + flowCollection(k) + "('" + strings.ReplaceAll(id, "'", "''") + "')/apiConnectorConfiguration"
	if len(expanded) > 0 {
		parts := make([]string, len(expanded))
		for i, e := range expanded {
			parts[i] = e + "()"
		}
		frag += "(" + strings.Join(parts, ",") + ")"
	}
	return s.contextURL(r, frag)
}

// parseExpand reads $expand (on beta also expand) of an
// apiConnectorConfiguration request: step names, or "*" for all.
func parseExpand(r *http.Request, beta bool) ([]string, error) {
	q := r.URL.Query()
	var values []string
	for key, vs := range q {
		if strings.EqualFold(key, "$expand") || (beta && strings.EqualFold(key, "expand")) {
			values = append(values, vs...)
		}
	}
	var out []string
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "*" {
				for _, s := range graph.Steps(beta) {
					if !slices.Contains(out, s) {
						out = append(out, s)
					}
				}
				continue
			}
			step, ok := graph.CanonicalStep(strings.TrimPrefix(item, graphNS), beta)
			if !ok {
				return nil, graph.Errorf(graph.KindInvalid,
					"Could not find a property named '%s' on type 'microsoft.graph.userFlowApiConnectorConfiguration'.", item)
			}
			if !slices.Contains(out, step) {
				out = append(out, step)
			}
		}
	}
	return out, nil
}

func (s *Server) handleGetFlowConnectors(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	beta := isBeta(r)
	expand, err := parseExpand(r, beta)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.getFlow(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f := v.Value
	body := map[string]any{"@odata.context": s.connectorConfigurationContext(r, f.Kind, f.ID, expand)}
	for _, step := range expand {
		cid, ok := f.APIConnectors[step]
		if !ok {
			body[step] = nil
			continue
		}
		c, err := store.GetAs[graph.APIConnector](r.Context(), s.store, rc.tenant.ID, store.APIConnectors, cid)
		if graph.KindOf(err) == graph.KindNotFound {
			body[step] = nil
			continue
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if f.Kind == graph.FlowB2X {
			// b2x responses annotate each expanded step, as Graph does.
			body[step+"@odata.context"] = s.stepContext(r, f, step)
		}
		body[step] = s.renderConnector(c.Value)
	}
	writeEntity(w, http.StatusOK, v.Version, body)
}

// stepContext is the per-step @odata.context of an expanded b2x step. Graph
// writes the cast segment twice for postAttributeCollection; so does this.
func (s *Server) stepContext(r *http.Request, f graph.UserFlow, step string) string {
	cast := "microsoft.graph.userFlowApiConnectorConfiguration/"
	if step == graph.StepPostAttributeCollection {
		cast += cast
	}
	return s.contextURL(r, "identity/"+flowCollection(f.Kind)+"('"+strings.ReplaceAll(f.ID, "'", "''")+"')/apiConnectorConfiguration/"+
		cast+step+"/$entity")
}

// stepParam reads the {step} parameter of the request.
func stepParam(r *http.Request) (string, error) {
	rc := reqCtx(r)
	name := rc.params[1]
	step, ok := graph.CanonicalStep(strings.TrimPrefix(name, graphNS), isBeta(r))
	if !ok {
		return "", noSegment(name)
	}
	return step, nil
}

func (s *Server) handleGetFlowConnectorStep(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	step, err := stepParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.getFlow(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cid, ok := v.Value.APIConnectors[step]
	if !ok {
		s.writeError(w, r, graph.Errorf(graph.KindNotFound, "The user flow '%s' calls no API connector at %s.", v.Value.ID, step))
		return
	}
	c, err := store.GetAs[graph.APIConnector](r.Context(), s.store, rc.tenant.ID, store.APIConnectors, cid)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := s.renderConnector(c.Value)
	out.Context = s.stepContext(r, v.Value, step)
	writeEntity(w, http.StatusOK, c.Version, out)
}

func (s *Server) handlePutFlowConnectorRef(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	k := flowKind(r)
	step, err := stepParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkFlowTenant(r, k); err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := readObject(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ref, hasRef, err := o.str("@odata.id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := o.rest("reference"); err != nil {
		s.writeError(w, r, err)
		return
	}
	var id string
	if hasRef {
		if id, err = refID(ref, "identity/apiConnectors"); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	v, err := s.updateFlow(r, k, func(tx store.Tx, f *graph.UserFlow) error {
		next := make(map[string]string, len(f.APIConnectors)+1)
		for s, c := range f.APIConnectors {
			next[s] = c
		}
		if hasRef {
			cid, err := connectorRef(tx, rc.tenant.ID, id)
			if err != nil {
				return err
			}
			next[step] = cid
		} else {
			delete(next, step) // {} disables the step
		}
		f.APIConnectors = next
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeNoContent(w, v.Version)
}

func (s *Server) handleListFlowProviders(w http.ResponseWriter, r *http.Request) {
	v, err := s.getFlow(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The flow's providers are an id list; an empty one matches nothing
	// (no id is null).
	ids := []store.Value{store.Null}
	for _, id := range v.Value.IdentityProviders {
		ids = append(ids, store.String(id))
	}
	frag := "identity/" + flowCollection(v.Value.Kind) + "('" + strings.ReplaceAll(v.Value.ID, "'", "''") + "')/identityProviders"
	s.writeList(w, r, s.deprecatedList(r, s.contextURL(r, frag), &store.Match{Field: store.FieldID, Op: store.In, Values: ids}))
}

func (s *Server) handleAddFlowProvider(w http.ResponseWriter, r *http.Request) {
	k := flowKind(r)
	if err := checkFlowTenant(r, k); err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := readObject(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ref, ok, err := o.str("@odata.id")
	if err == nil && !ok {
		err = graph.Errorf(graph.KindInvalid, "@odata.id is required: the URL of the identity provider to add.")
	}
	if err == nil {
		err = o.rest("reference")
	}
	var id string
	if err == nil {
		// Both APIs name the same providers (decision D4).
		if id, err = refID(ref, "identityProviders"); err != nil {
			id, err = refID(ref, "identity/identityProviders")
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.updateFlow(r, k, func(tx store.Tx, f *graph.UserFlow) error {
		pid, err := s.flowProviderRef(tx, r, id)
		if err != nil {
			return err
		}
		if f.UsesProvider(pid) {
			return graph.Errorf(graph.KindInvalid,
				"One or more added object references already exist for the following modified properties: 'identityProviders'.")
		}
		f.IdentityProviders = append(slices.Clone(f.IdentityProviders), pid)
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeNoContent(w, v.Version)
}

func (s *Server) handleRemoveFlowProvider(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	k := flowKind(r)
	if err := checkFlowTenant(r, k); err != nil {
		s.writeError(w, r, err)
		return
	}
	pid := rc.params[1]
	v, err := s.updateFlow(r, k, func(_ store.Tx, f *graph.UserFlow) error {
		i := slices.IndexFunc(f.IdentityProviders, func(p string) bool { return strings.EqualFold(p, pid) })
		if i < 0 {
			return graph.Errorf(graph.KindNotFound, "The user flow '%s' does not offer the identity provider '%s'.", f.ID, pid)
		}
		f.IdentityProviders = slices.Delete(slices.Clone(f.IdentityProviders), i, i+1)
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeNoContent(w, v.Version)
}
