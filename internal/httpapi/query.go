package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/odata"
	"github.com/idgraph/idgraph/internal/store"
)

// DefaultPageSize is the page size of a collection read without $top
// (decision D8).
const DefaultPageSize = 100

// queryKind says which system query options a GET route takes.
type queryKind int

const (
	queryNone   queryKind = iota // $expand (where the handler reads it) and $format only
	queryEntity                  // also $select
	queryList                    // every option of decision D8
	queryCount                   // a /$count segment: $filter
)

// allowedOptions lists the options each kind accepts.
var allowedOptions = map[queryKind][]string{
	queryNone:   {"$expand", "$format"},
	queryEntity: {"$select", "$expand", "$format"},
	queryList:   {"$select", "$filter", "$orderby", "$top", "$count", "$skiptoken", "$expand", "$format"},
	queryCount:  {"$filter", "$format"},
}

// parseOptions reads the system query options of a GET request and checks
// them against what the route takes. Other methods ignore query options.
func parseOptions(r *http.Request, rt *route, beta bool) (odata.Query, error) {
	if r.Method != http.MethodGet {
		return odata.Query{}, nil
	}
	q, err := odata.ParseQuery(r.URL.RawQuery, beta)
	if err != nil {
		return odata.Query{}, err
	}
	allowed := allowedOptions[rt.query]
	for _, name := range q.Given {
		if !slices.Contains(allowed, name) {
			return odata.Query{}, graph.Errorf(graph.KindInvalid, "Query option '%s' is not allowed on this resource.", name)
		}
	}
	if q.Expand != "" && q.Expand != "*" && rt.query != queryNone {
		// No collection or entity of the slice has navigation properties:
		// "*" expands nothing, a name is unknown.
		item, _, _ := strings.Cut(q.Expand, ",")
		item, _, _ = strings.Cut(strings.TrimSpace(item), "(")
		return odata.Query{}, graph.Errorf(graph.KindInvalid, "Could not find a property named '%s' on type '%s'.",
			odata.Clip(item), rt.view(r).typeName)
	}
	return q, nil
}

// view is one collection as clients see it: its type, the properties
// $select may name, and those $filter and $orderby may use, with the stored
// field each one reads.
type view struct {
	// deprecatedType marks the deprecated provider view, whose type reads
	// "OpenIDConnect" for openIdConnect providers (renderDeprecated).
	deprecatedType bool
	typeName       string                 // for messages: microsoft.graph.identityApiConnector
	props          []string               // selectable, as spelled in responses
	filter         map[string]store.Field // lower-cased name → field
	order          map[string]store.Field
}

func newView(typeName string, props []string, filter map[string]store.Field, order map[string]store.Field) *view {
	lower := func(m map[string]store.Field) map[string]store.Field {
		out := make(map[string]store.Field, len(m))
		for k, v := range m {
			out[strings.ToLower(k)] = v
		}
		return out
	}
	return &view{typeName: typeName, props: props, filter: lower(filter), order: lower(order)}
}

func str(name string) store.Field { return store.Field{Name: name} }

// The views of the slice.
var (
	connectorView = newView("microsoft.graph.identityApiConnector",
		[]string{"id", "displayName", "targetUrl", "authenticationConfiguration"},
		map[string]store.Field{"id": store.FieldID, "displayName": str("displayName"), "targetUrl": str("targetUrl")},
		map[string]store.Field{"id": store.FieldID, "displayName": str("displayName")})

	providerFilter = map[string]store.Field{"id": store.FieldID, "displayName": str("displayName"),
		"identityProviderType": str("identityProviderType"), "clientId": str("clientId"),
		"developerId": str("developerId"), "serviceId": str("serviceId"), "keyId": str("keyId"),
		"responseType": str("responseType"), "scope": str("scope"), "issuer": str("issuer"),
		"wellKnownEndpoint": str("wellKnownEndpoint")}
	providerProps = []string{"id", "displayName", "identityProviderType", "clientId", "clientSecret",
		"developerId", "serviceId", "keyId", "certificateData", "issuer", "wellKnownEndpoint", "responseType", "scope",
		"clientAuthentication", "inboundClaimMapping"}
	providerView = newView("microsoft.graph.identityProviderBase", providerProps, providerFilter,
		map[string]store.Field{"id": store.FieldID, "displayName": str("displayName")})
	// Beta adds openIdConnectIdentityProvider (B2C).
	providerViewBeta = newView("microsoft.graph.identityProviderBase",
		append(append([]string(nil), providerProps...), "claimsMapping", "domainHint", "metadataUrl", "responseMode", "state"),
		merge(providerFilter, map[string]store.Field{"domainHint": str("domainHint"), "metadataUrl": str("metadataUrl"),
			"responseMode": str("responseMode")}),
		map[string]store.Field{"id": store.FieldID, "displayName": str("displayName")})

	deprecatedFilter = map[string]store.Field{"id": store.FieldID, "name": str("displayName"),
		"type": str("identityProviderType"), "clientId": str("clientId")}
	deprecatedView = deprecated(newView("microsoft.graph.identityProvider", []string{"id", "name", "type", "clientId", "clientSecret"},
		deprecatedFilter, map[string]store.Field{"id": store.FieldID, "name": str("displayName")}))
	// Beta adds openIdConnectProvider.
	deprecatedViewBeta = deprecated(newView("microsoft.graph.identityProvider",
		[]string{"id", "name", "type", "clientId", "clientSecret", "claimsMapping", "domainHint", "metadataUrl",
			"responseMode", "responseType", "scope"},
		merge(deprecatedFilter, map[string]store.Field{"domainHint": str("domainHint"), "metadataUrl": str("metadataUrl"),
			"responseMode": str("responseMode"), "responseType": str("responseType"), "scope": str("scope")}),
		map[string]store.Field{"id": store.FieldID, "name": str("displayName")}))

	b2xFlowView = newView("microsoft.graph.b2xIdentityUserFlow",
		[]string{"id", "userFlowType", "userFlowTypeVersion"},
		map[string]store.Field{"id": store.FieldID, "userFlowType": str("userFlowType")},
		map[string]store.Field{"id": store.FieldID})
	b2cFlowView = newView("microsoft.graph.b2cIdentityUserFlow",
		[]string{"id", "userFlowType", "userFlowTypeVersion", "isLanguageCustomizationEnabled", "defaultLanguageTag"},
		map[string]store.Field{"id": store.FieldID, "userFlowType": str("userFlowType"),
			"defaultLanguageTag":             str("defaultLanguageTag"),
			"isLanguageCustomizationEnabled": {Name: "isLanguageCustomizationEnabled", Bool: true}},
		map[string]store.Field{"id": store.FieldID})
	// Routes without query options name no view; messages then name no type.
	noView = newView("", nil, nil, nil)
)

func deprecated(v *view) *view {
	v.deprecatedType = true
	return v
}

func merge(a, b map[string]store.Field) map[string]store.Field {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// viewOf returns the view a route's items are shown in.
func viewOf(f family) func(r *http.Request) *view {
	return func(r *http.Request) *view {
		beta := isBeta(r)
		switch f {
		case famConnectors:
			return connectorView
		case famProviders:
			if beta {
				return providerViewBeta
			}
			return providerView
		case famDeprecated, famB2XFlowProviders, famB2CFlowProviders:
			if beta {
				return deprecatedViewBeta
			}
			return deprecatedView
		case famB2XFlows:
			return b2xFlowView
		case famB2CFlows:
			return b2cFlowView
		}
		return noView
	}
}

// unsupportedFilter is Graph's answer to a $filter on a property it cannot
// filter by.
func (v *view) unsupportedFilter(prop string) error {
	t := v.typeName
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		t = t[i+1:]
	}
	return &graph.Error{Kind: graph.KindInvalid, Code: "Request_UnsupportedQuery",
		Message: "Unsupported or invalid query filter clause specified for property '" + odata.Clip(prop) + "' of resource '" + t + "'."}
}

// cond translates a parsed $filter into a store condition.
func (v *view) cond(e odata.Expr) (store.Cond, error) {
	switch e := e.(type) {
	case *odata.Logical:
		l, err := v.cond(e.L)
		if err != nil {
			return nil, err
		}
		r, err := v.cond(e.R)
		if err != nil {
			return nil, err
		}
		if e.Op == "or" {
			return &store.Or{L: l, R: r}, nil
		}
		return &store.And{L: l, R: r}, nil
	case *odata.Not:
		x, err := v.cond(e.X)
		if err != nil {
			return nil, err
		}
		return &store.Not{X: x}, nil
	case *odata.Compare:
		f, val, err := v.operand(e.Prop, e.Value, true)
		if err != nil {
			return nil, err
		}
		op := store.Eq
		if e.Op == "ne" {
			op = store.Ne
		}
		return v.typeMatch(e.Prop, &store.Match{Field: f, Op: op, Values: []store.Value{val}}), nil
	case *odata.Func:
		f, val, err := v.operand(e.Prop, e.Value, false)
		if err != nil {
			return nil, err
		}
		if f.Bool {
			return nil, v.unsupportedFilter(e.Prop)
		}
		op := store.Prefix
		if e.Name == "endswith" {
			op = store.Suffix
		}
		return v.typeMatch(e.Prop, &store.Match{Field: f, Op: op, Values: []store.Value{val}}), nil
	case *odata.In:
		m := &store.Match{Op: store.In}
		for _, lit := range e.Values {
			f, val, err := v.operand(e.Prop, lit, true)
			if err != nil {
				return nil, err
			}
			m.Field = f
			m.Values = append(m.Values, val)
		}
		return v.typeMatch(e.Prop, m), nil
	}
	return nil, graph.Errorf(graph.KindInvalid, "Invalid filter clause.")
}

// typeMatch adapts a comparison of a property that some items show
// without storing it: the deprecated view's type, "OpenIDConnect" for
// openIdConnect providers (renderDeprecated), and their domainHint, ""
// when none was given (Graph's examples show it so).
func (v *view) typeMatch(prop string, m *store.Match) store.Cond {
	oidc := &store.Match{Field: odataTypeField, Op: store.Eq, Values: []store.Value{store.String(graph.TypeOpenIDConnectIdentityProvider)}}
	switch {
	case v.deprecatedType && strings.EqualFold(prop, "type"):
		return withDefault(m, oidc, graph.OpenIDConnectType)
	case strings.EqualFold(prop, "domainHint"):
		return withDefault(m, oidc, "")
	}
	return m
}

// withDefault is m on items where, among rows, a missing field reads as
// def.
func withDefault(m *store.Match, rows store.Cond, def string) store.Cond {
	missing := &store.Match{Field: m.Field, Op: store.Eq, Values: []store.Value{store.Null}}
	var inRows store.Cond = &store.And{L: &store.Not{X: missing}, R: m}
	if holds(m, def) {
		inRows = &store.Or{L: missing, R: inRows}
	}
	return &store.Or{L: &store.And{L: rows, R: inRows}, R: &store.And{L: &store.Not{X: rows}, R: m}}
}

// holds evaluates a comparison on a known, present string value, ignoring
// ASCII case as the store does.
func holds(m *store.Match, s string) bool {
	low := odata.FoldASCII(s)
	for _, v := range m.Values {
		if v.Null {
			if m.Op == store.Ne {
				return true
			}
			continue
		}
		x := odata.FoldASCII(v.Str)
		switch m.Op {
		case store.Eq, store.In:
			if x == low {
				return true
			}
		case store.Ne:
			return x != low
		case store.Prefix:
			return strings.HasPrefix(low, x)
		case store.Suffix:
			return strings.HasSuffix(low, x)
		}
	}
	return false
}

// operand resolves a property and a literal compared with it.
func (v *view) operand(prop string, lit odata.Literal, nullOK bool) (store.Field, store.Value, error) {
	f, ok := v.filter[strings.ToLower(prop)]
	if !ok {
		return store.Field{}, store.Value{}, v.unsupportedFilter(prop)
	}
	switch {
	case lit.Kind == odata.LitNull && nullOK:
		return f, store.Null, nil
	case lit.Kind == odata.LitBool && f.Bool:
		return f, store.Bool(lit.Bool), nil
	case (lit.Kind == odata.LitString || lit.Kind == odata.LitGUID) && !f.Bool:
		return f, store.String(lit.Str), nil
	}
	return store.Field{}, store.Value{}, &graph.Error{Kind: graph.KindInvalid, Code: "BadRequest",
		Message: "Invalid filter clause: the literal compared with '" + odata.Clip(prop) + "' is not of the property's type."}
}

// selection resolves $select against the view: the properties to keep as
// spelled in responses, or nil for all.
func (v *view) selection(sel []string) ([]string, error) {
	if sel == nil {
		return nil, nil
	}
	var out []string
	for _, name := range sel {
		if name == "*" {
			return nil, nil
		}
		found := ""
		for _, p := range v.props {
			if strings.EqualFold(p, name) {
				found = p
				break
			}
		}
		if found == "" {
			return nil, graph.Errorf(graph.KindInvalid, "Could not find a property named '%s' on type '%s'.", odata.Clip(name), v.typeName)
		}
		out = append(out, found)
	}
	return out, nil
}

// project keeps id, @odata.type and the selected members of a JSON object,
// in their order; an @odata.context gains the selection.
func project(item []byte, sel []string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(item))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteByte('{')
	n := 0
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		switch {
		case name == "@odata.context":
			var c string
			if err := json.Unmarshal(raw, &c); err != nil {
				return nil, err
			}
			list := "(" + strings.Join(sel, ",") + ")"
			if base, ok := strings.CutSuffix(c, "/$entity"); ok {
				c = base + list + "/$entity"
			} else {
				c += list
			}
			raw, _ = marshal(c)
		case name == "id" || name == "@odata.type" || slices.Contains(sel, name):
		default:
			continue
		}
		if n > 0 {
			out.WriteByte(',')
		}
		n++
		key, _ := marshal(name)
		out.Write(key)
		out.WriteByte(':')
		out.Write(raw)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// marshal encodes v as every response body is encoded: without HTML
// escaping, so '&', '<' and '>' stay one byte (and links keep their '&' as
// Graph writes them).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// writeSelected answers one entity, reduced to the request's $select.
func (s *Server) writeSelected(w http.ResponseWriter, r *http.Request, version int64, body any) {
	rc := reqCtx(r)
	sel, err := rc.route.view(r).selection(rc.query.Select)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if sel == nil {
		writeEntity(w, http.StatusOK, version, body)
		return
	}
	b, err := marshal(body)
	if err == nil {
		b, err = project(b, sel)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeEntity(w, http.StatusOK, version, json.RawMessage(b))
}

// listSpec is one collection read: which records, how they look.
type listSpec struct {
	coll    store.Collection
	visible store.Cond // the records this collection shows; nil for all
	context string     // @odata.context, "" for none
	tips    string     // @microsoft.graph.tips, "" for none
	render  func(store.Record) (any, error)
}

type pageBody struct {
	Context  string            `json:"@odata.context,omitempty"`
	Tips     string            `json:"@microsoft.graph.tips,omitempty"`
	Count    *int64            `json:"@odata.count,omitempty"`
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"@odata.nextLink,omitempty"`
}

// writeList answers a collection read: one page of the records that are
// visible and match $filter, in the order of $orderby, with $select
// applied; or, on a /$count route, their number.
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, ls listSpec) {
	if err := s.list(w, r, ls); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, ls listSpec) error {
	rc := reqCtx(r)
	v := rc.route.view(r)
	opts := rc.query
	q := store.Query{Where: ls.visible, Limit: DefaultPageSize, Count: opts.Count}
	if opts.Filter != nil {
		c, err := v.cond(opts.Filter)
		if err != nil {
			return err
		}
		if q.Where == nil {
			q.Where = c
		} else {
			q.Where = &store.And{L: q.Where, R: c}
		}
	}
	if rc.route.count {
		q.Count, q.Limit = true, 1
		page, err := s.query(r, ls.coll, q)
		if err != nil {
			return err
		}
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("OData-Version", "4.0")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(strconv.FormatInt(page.Count, 10)))
		return nil
	}
	var orderText []string
	for _, o := range opts.OrderBy {
		f, ok := v.order[strings.ToLower(o.Prop)]
		if !ok {
			return &graph.Error{Kind: graph.KindInvalid, Code: "Request_UnsupportedQuery",
				Message: "Sorting by property '" + odata.Clip(o.Prop) + "' is not supported."}
		}
		q.OrderBy = append(q.OrderBy, store.Order{Field: f, Desc: o.Desc})
		dir := " asc"
		if o.Desc {
			dir = " desc"
		}
		orderText = append(orderText, strings.ToLower(o.Prop)+dir)
	}
	if opts.Top > 0 {
		q.Limit = opts.Top
	}
	sel, err := v.selection(opts.Select)
	if err != nil {
		return err
	}
	binding := pageBinding(rc.tenant.ID, r.URL.EscapedPath(), opts.FilterText, strings.Join(orderText, ","))
	if opts.SkipToken != "" {
		cur, err := s.openSkipToken(opts.SkipToken, binding)
		if err != nil {
			return err
		}
		q.After = cur
	}
	page, err := s.query(r, ls.coll, q)
	if err != nil {
		if graph.KindOf(err) == graph.KindInvalid && q.After != "" {
			return errBadSkipToken
		}
		return err
	}
	out := pageBody{Context: ls.context, Tips: ls.tips, Value: make([]json.RawMessage, 0, len(page.Records))}
	if sel != nil {
		out.Tips = "" // the tip is to use $select
	}
	if ls.context != "" && sel != nil {
		out.Context += "(" + strings.Join(sel, ",") + ")"
	}
	if opts.Count {
		out.Count = &page.Count
	}
	for _, rec := range page.Records {
		item, err := ls.render(rec)
		if err != nil {
			return err
		}
		b, err := marshal(item)
		if err != nil {
			return err
		}
		if sel != nil {
			if b, err = project(b, sel); err != nil {
				return err
			}
		}
		out.Value = append(out.Value, b)
	}
	if page.Next != "" {
		token, err := s.sealSkipToken(page.Next, binding)
		if err != nil {
			return err
		}
		out.NextLink = s.nextLink(r, token)
	}
	writeJSONBody(w, http.StatusOK, out)
	return nil
}

// QueryTimeout bounds one collection read. A filter on a property without
// an index (anything but id and displayName) reads the whole collection;
// on a very large one it is stopped rather than allowed to hold a reader
// that other requests and tenants need.
const QueryTimeout = 3 * time.Second

// query runs one store query within QueryTimeout.
func (s *Server) query(r *http.Request, c store.Collection, q store.Query) (store.Page, error) {
	ctx, cancel := context.WithTimeout(r.Context(), QueryTimeout)
	defer cancel()
	page, err := s.store.Query(ctx, reqCtx(r).tenant.ID, c, q)
	if err != nil && ctx.Err() != nil && r.Context().Err() == nil {
		return store.Page{}, &graph.Error{Kind: graph.KindUnavailable, Err: err,
			Message: fmt.Sprintf("The query ran longer than %v and was stopped. Filters on id and displayName use an index; narrow the filter or retry later.", QueryTimeout)}
	}
	return page, err
}

// pageBinding is what a $skiptoken is valid for: the tenant, the
// collection's path and the query that orders and filters it. Each part is
// length-prefixed, so no two bindings read alike.
func pageBinding(tenant, path, filter, order string) string {
	var b strings.Builder
	b.WriteString("idgraph page v1")
	for _, part := range []string{tenant, strings.ToLower(path), filter, order} {
		fmt.Fprintf(&b, "|%d:%s", len(part), part)
	}
	return b.String()
}

var errBadSkipToken = graph.Errorf(graph.KindInvalid, "The $skiptoken is not valid for this request: follow @odata.nextLink as returned.")

// sealSkipToken turns a store cursor into an opaque token: the cursor
// sealed with the server's key, the binding as additional data. Clients
// learn nothing from it (not even the position), and it opens only for the
// same tenant, path, filter and order.
func (s *Server) sealSkipToken(cursor string, binding string) (string, error) {
	sealed, err := s.keys.Seal([]byte(cursor), binding)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// openSkipToken returns the cursor of a token sealed for this binding.
func (s *Server) openSkipToken(token string, binding string) (string, error) {
	sealed, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil {
		return "", errBadSkipToken
	}
	cursor, err := s.keys.Open(sealed, binding)
	if err != nil {
		return "", errBadSkipToken
	}
	return string(cursor), nil
}

// nextLink is the request's URL with its query options and the next page's
// $skiptoken, on the address the client called: clients follow it (the
// SDKs' page iterators do), so it must lead back to this server, not to the
// Graph host that @odata.context names.
func (s *Server) nextLink(r *http.Request, token string) string {
	beta := isBeta(r)
	var keep []string
	for _, part := range strings.Split(r.URL.RawQuery, "&") {
		name, _, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			n = strings.ToLower(n)
			if n == "$skiptoken" || (beta && n == "skiptoken") {
				continue
			}
		}
		if part != "" {
			keep = append(keep, part)
		}
	}
	keep = append(keep, "$skiptoken="+url.QueryEscape(token))
	return origin(r) + r.URL.EscapedPath() + "?" + strings.Join(keep, "&")
}

// origin is the scheme and host the client called.
func origin(r *http.Request) string {
	if r.TLS == nil {
		return "http://" + r.Host
	}
	return "https://" + r.Host
}
