package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/idgraph/idgraph/internal/graph"
)

// OData query options over real HTTP: $select, $filter, $orderby, $top,
// $count, the /$count segment, server paging with signed $skiptoken, the
// beta prefix-less names and the errors, for API connectors, both
// identity-provider views and user flows, under /v1.0 and /beta. Every
// request goes through qtDo: no answer may be a 5xx, and every error is
// Graph's envelope with a code and a message.

var qtVersions = []string{"v1.0", "beta"}

// Secrets of the fixture: no response may show them.
const (
	qtConnectorPassword = "qt-connector-Pa55word"
	qtAppleKey          = "qt-apple-private-key"
	qtB2COIDCSecret     = "qt-b2c-oidc-secret"
	qtExtOIDCSecret     = "qt-ext-oidc-secret"
)

// qtAllSecrets lists every secret the fixture stores.
func qtAllSecrets() []string {
	return []string{qtConnectorPassword, qtAppleKey, qtB2COIDCSecret, qtExtOIDCSecret,
		ufSocialSecret("Amazon"), ufSocialSecret("Google"), ufSocialSecret("Facebook")}
}

// qtEnc percent-encodes a query option value, spaces as %20.
func qtEnc(v string) string { return strings.ReplaceAll(url.QueryEscape(v), "+", "%20") }

// qtWith appends query options to path: name/value pairs, values encoded
// with qtEnc, names as written.
func qtWith(path string, kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+"="+qtEnc(kv[i+1]))
	}
	if len(parts) == 0 {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + strings.Join(parts, "&")
}

// qtQuote is a $filter string literal.
func qtQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// qtDo sends req (GET when no method is given). Whatever the request, the
// answer is never a 5xx, and an error answer is Graph's envelope.
func qtDo(t *testing.T, s *testServer, req request) response {
	t.Helper()
	if req.Method == "" {
		req.Method = "GET"
	}
	r := s.do(req)
	if r.Status >= 500 {
		t.Fatalf("%s %s: server error %d: %s", req.Method, req.Path, r.Status, r.Body)
	}
	if r.Status >= 300 {
		qtCheckEnvelope(t, req, r)
	}
	return r
}

// qtError is the envelope of an error answer.
type qtError struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	InnerError struct {
		Date            string `json:"date"`
		RequestID       string `json:"request-id"`
		ClientRequestID string `json:"client-request-id"`
	} `json:"innerError"`
}

// qtCheckEnvelope asserts Graph's error envelope: JSON, a code, a message,
// the request ids of the headers, and nothing but "error" at the top.
func qtCheckEnvelope(t *testing.T, req request, r response) qtError {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: error %d with Content-Type %q", req.Method, req.Path, r.Status, ct)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &env); err != nil {
		t.Fatalf("%s %s: error %d body is not a JSON object: %v\n%s", req.Method, req.Path, r.Status, err, r.Body)
	}
	var e qtError
	if err := json.Unmarshal(env["error"], &e); err != nil || len(env) != 1 {
		t.Fatalf("%s %s: error %d body is not Graph's envelope: %s", req.Method, req.Path, r.Status, r.Body)
	}
	if e.Code == "" || e.Message == "" {
		t.Errorf("%s %s: error %d without code or message: %s", req.Method, req.Path, r.Status, r.Body)
	}
	if e.InnerError.Date == "" || e.InnerError.RequestID == "" || e.InnerError.RequestID != r.Header.Get("request-id") ||
		e.InnerError.ClientRequestID == "" {
		t.Errorf("%s %s: innerError %+v, header request-id %q", req.Method, req.Path, e.InnerError, r.Header.Get("request-id"))
	}
	return e
}

// qtReject sends a GET and asserts the error: status, code (any when "")
// and a message containing msg (ignoring case; any when "").
func qtReject(t *testing.T, s *testServer, tok, path string, status int, code, msg string) qtError {
	t.Helper()
	return qtRejectReq(t, s, request{Method: "GET", Path: path, Token: tok}, status, code, msg)
}

func qtRejectReq(t *testing.T, s *testServer, req request, status int, code, msg string) qtError {
	t.Helper()
	if req.Method == "" {
		req.Method = "GET"
	}
	r := qtDo(t, s, req)
	if r.Status != status {
		t.Errorf("%s %s: status %d, want %d; body %s", req.Method, req.Path, r.Status, status, r.Body)
		return qtError{}
	}
	e := qtCheckEnvelope(t, req, r)
	if code != "" && e.Code != code {
		t.Errorf("%s %s: error code %q, want %q (message %q)", req.Method, req.Path, e.Code, code, e.Message)
	}
	if msg != "" && !strings.Contains(strings.ToLower(e.Message), strings.ToLower(msg)) {
		t.Errorf("%s %s: error message %q does not contain %q", req.Method, req.Path, e.Message, msg)
	}
	return e
}

// qtPage is one page of a collection.
type qtPage struct {
	Context  string
	Count    *int64
	NextLink string
	Raw      []json.RawMessage // the items as sent
	Items    []map[string]any
	Body     []byte
}

// qtGetPage reads one page and fails unless it is a 200 collection.
func qtGetPage(t *testing.T, s *testServer, tok, path string) qtPage {
	t.Helper()
	r := qtDo(t, s, request{Path: path, Token: tok})
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200; body %s", path, r.Status, r.Body)
	}
	var body struct {
		Context  string            `json:"@odata.context"`
		Count    *int64            `json:"@odata.count"`
		NextLink string            `json:"@odata.nextLink"`
		Value    []json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || body.Value == nil {
		t.Fatalf("GET %s: not a collection (%v): %s", path, err, r.Body)
	}
	p := qtPage{Context: body.Context, Count: body.Count, NextLink: body.NextLink, Raw: body.Value, Body: r.Body}
	for _, raw := range body.Value {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("GET %s: item is not an object: %s", path, raw)
		}
		p.Items = append(p.Items, m)
	}
	for _, sec := range qtAllSecrets() {
		if bytes.Contains(r.Body, []byte(sec)) {
			t.Errorf("GET %s: the body shows the secret %q", path, sec)
		}
	}
	return p
}

// qtFollow reads path and every page its nextLinks lead to. Every nextLink
// must be absolute on the server's own address (clients follow it, so it
// must lead back here), while @odata.context names root, the Graph host of
// the server's cloud.
func qtFollow(t *testing.T, s *testServer, tok, root, path string) (items []map[string]any, pages []qtPage) {
	t.Helper()
	for n := 0; ; n++ {
		if n > 1000 {
			t.Fatalf("GET %s: more than 1000 pages", path)
		}
		p := qtGetPage(t, s, tok, path)
		pages = append(pages, p)
		items = append(items, p.Items...)
		if p.NextLink == "" {
			return items, pages
		}
		rest, ok := strings.CutPrefix(p.NextLink, s.URL+"/")
		if !ok {
			t.Fatalf("GET %s: @odata.nextLink %q is not on the server's address %s", path, p.NextLink, s.URL)
		}
		if c := pages[0].Context; c != "" && !strings.HasPrefix(c, root+"/") {
			t.Fatalf("GET %s: @odata.context %q is not on %s", path, c, root)
		}
		path = "/" + rest
	}
}

// qtAll reads every item of a collection (any number of pages).
func qtAll(t *testing.T, s *testServer, tok, path string) []map[string]any {
	t.Helper()
	items, _ := qtFollow(t, s, tok, ufGraphRoot, path)
	return items
}

// qtKeys returns the member names of a JSON object in the order sent.
func qtKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("bad JSON object %s: %v", raw, err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("bad JSON object %s: %v", raw, err)
		}
	}
	return keys
}

// qtSkipToken returns the $skiptoken value of a nextLink, decoded.
func qtSkipToken(t *testing.T, nextLink string) string {
	t.Helper()
	u, err := url.Parse(nextLink)
	if err != nil {
		t.Fatalf("nextLink %q: %v", nextLink, err)
	}
	for part := range strings.SplitSeq(u.RawQuery, "&") {
		name, value, _ := strings.Cut(part, "=")
		if strings.EqualFold(name, "$skiptoken") {
			v, err := url.QueryUnescape(value)
			if err != nil {
				t.Fatalf("nextLink %q: %v", nextLink, err)
			}
			return v
		}
	}
	t.Fatalf("nextLink %q has no $skiptoken", nextLink)
	return ""
}

// --- fixture -----------------------------------------------------------------

// qtFixture is a server with one tenant of each kind:
//   - the default B2C tenant: five connectors, the social providers Amazon
//     and Google, the Apple provider, an OpenID Connect provider (beta only),
//     three B2C user flows, SignUp offering Amazon and the OpenID Connect one;
//   - a workforce tenant: its built-in provider, Google and Facebook, two
//     B2X user flows, Partner offering Google and Facebook;
//   - an external tenant: its built-in providers and an oidcIdentityProvider.
type qtFixture struct {
	s                   *testServer
	b2c, wf, ext        string // admin tokens
	wfTenant, extTenant graph.Tenant
	conn                map[string]string // connector display name → id
	connNames           []string          // in creation order
	oidc                string            // the B2C openIdConnectIdentityProvider
	extOIDC             string            // the external tenant's oidcIdentityProvider
}

// qtConnectors are the fixture's connectors, in creation order.
var qtConnectors = []struct{ name, target string }{
	{"Alpha", "https://api.example.com/alpha"},
	{"alpha two", "https://hooks.contoso.example/alpha2"},
	{"Beta", "https://api.example.com/beta"},
	{"O'Brien check", "https://api.example.com/obrien"},
	{"Gamma", "https://gamma.example.org/validate"},
}

// qtCreateConnector creates a basic-auth connector and returns its id.
func qtCreateConnector(t *testing.T, s *testServer, tok, name, target string) string {
	t.Helper()
	// beta: the API exists in every cloud.
	r := ufExpect(t, s, request{Method: "POST", Path: "/beta/identity/apiConnectors", Token: tok, Body: map[string]any{
		"displayName": name,
		"targetUrl":   target,
		"authenticationConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.basicAuthentication", "username": "user", "password": qtConnectorPassword},
	}}, http.StatusCreated)
	id, _ := ufObject(t, r)["id"].(string)
	if id == "" {
		t.Fatalf("create connector: no id in %s", r.Body)
	}
	return id
}

func newQTFixture(t *testing.T) *qtFixture {
	t.Helper()
	s := newServer(t)
	wf := s.newTenant(graph.TenantWorkforce, "")
	ext := s.newTenant(graph.TenantExternal, "")
	f := &qtFixture{s: s, b2c: s.adminToken(s.Tenant.ID), wf: s.adminToken(wf.ID), ext: s.adminToken(ext.ID),
		wfTenant: wf, extTenant: ext, conn: map[string]string{}}
	for _, c := range qtConnectors {
		f.conn[c.name] = qtCreateConnector(t, s, f.b2c, c.name, c.target)
		f.connNames = append(f.connNames, c.name)
	}
	ufCreateSocial(t, s, f.b2c, "Amazon")
	ufCreateSocial(t, s, f.b2c, "Google")
	ufExpect(t, s, request{Method: "POST", Path: "/v1.0/identity/identityProviders", Token: f.b2c, Body: ipAppleBody(qtAppleKey)}, http.StatusCreated)
	r := ufExpect(t, s, request{Method: "POST", Path: "/beta/identity/identityProviders", Token: f.b2c,
		Body: cvOpenIDConnectBody("Contoso B2C", "cid-oidc", qtB2COIDCSecret)}, http.StatusCreated)
	f.oidc, _ = ufObject(t, r)["id"].(string)
	ufCreateFlow(t, s, f.b2c, "beta", "b2cUserFlows", ufFlowBody("SignUp", "signUp", 3))
	ufCreateFlow(t, s, f.b2c, "beta", "b2cUserFlows", ufFlowBody("Profile", "profileUpdate", 2,
		"isLanguageCustomizationEnabled", true, "defaultLanguageTag", "fr-CA"))
	ufCreateFlow(t, s, f.b2c, "beta", "b2cUserFlows", ufFlowBody("Reset", "passwordReset", 3,
		"isLanguageCustomizationEnabled", true, "defaultLanguageTag", "de"))
	for _, p := range []string{"/beta/identityProviders/Amazon-OAUTH", "/beta/identity/identityProviders/" + f.oidc} {
		ufExpect(t, s, request{Method: "POST", Path: "/beta/identity/b2cUserFlows/B2C_1_SignUp/identityProviders/$ref", Token: f.b2c,
			Body: map[string]any{"@odata.id": ufGraphRoot + p}}, http.StatusNoContent)
	}

	ufCreateSocial(t, s, f.wf, "Google")
	ufCreateSocial(t, s, f.wf, "Facebook")
	ufCreateFlow(t, s, f.wf, "v1.0", "b2xUserFlows", ufFlowBody("Partner", "signUpOrSignIn", 1))
	ufCreateFlow(t, s, f.wf, "v1.0", "b2xUserFlows", ufFlowBody("Vendor", "signUpOrSignIn", 1))
	for _, id := range []string{"Google-OAUTH", "Facebook-OAUTH"} {
		ufExpect(t, s, request{Method: "POST", Path: "/v1.0/identity/b2xUserFlows/B2X_1_Partner/identityProviders/$ref", Token: f.wf,
			Body: map[string]any{"@odata.id": ufGraphRoot + "/v1.0/identityProviders/" + id}}, http.StatusNoContent)
	}

	r = ufExpect(t, s, request{Method: "POST", Path: "/beta/identity/identityProviders", Token: f.ext, Body: ipOIDCBody(qtExtOIDCSecret)}, http.StatusCreated)
	f.extOIDC, _ = ufObject(t, r)["id"].(string)
	return f
}

// ids returns the ids of the named connectors.
func (f *qtFixture) ids(names ...string) []string {
	out := []string{}
	for _, n := range names {
		id, ok := f.conn[n]
		if !ok {
			panic("no connector " + n)
		}
		out = append(out, id)
	}
	return out
}

// allBut returns the ids of every connector but the named ones, in
// creation order.
func (f *qtFixture) allBut(names ...string) []string {
	out := []string{}
	for _, n := range f.connNames {
		if !slices.Contains(names, n) {
			out = append(out, f.conn[n])
		}
	}
	return out
}

// qtColl is one collection of the fixture as a client reads it.
type qtColl struct {
	name     string
	path     string // below the version root, e.g. "identity/apiConnectors"
	typ      string // the type $select messages name
	tok      string
	versions []string // both when nil
	entity   string   // an id of an item, for entity reads; "" for none
	// filterable string properties as named in the view, per version
	filter     []string
	filterBeta []string // added on beta
	filterBool []string // filterable boolean properties
}

func (c qtColl) inVersions() []string {
	if c.versions == nil {
		return qtVersions
	}
	return c.versions
}

func (c qtColl) filterable(v string) []string {
	out := slices.Clone(c.filter)
	if v == "beta" {
		out = append(out, c.filterBeta...)
	}
	return out
}

// colls lists every collection of the slice with the fixture's data.
func (f *qtFixture) colls() []qtColl {
	current := []string{"id", "displayName", "identityProviderType", "clientId", "developerId", "serviceId", "keyId",
		"responseType", "scope", "issuer", "wellKnownEndpoint"}
	currentBeta := []string{"domainHint", "metadataUrl", "responseMode"}
	deprecated := []string{"id", "name", "type", "clientId"}
	deprecatedBeta := []string{"domainHint", "metadataUrl", "responseMode", "responseType", "scope"}
	beta := []string{"beta"}
	return []qtColl{
		{name: "connectors", path: "identity/apiConnectors", typ: "identityApiConnector", tok: f.b2c, entity: f.conn["Beta"],
			filter: []string{"id", "displayName", "targetUrl"}},
		{name: "providers b2c", path: "identity/identityProviders", typ: "identityProviderBase", tok: f.b2c, entity: "Amazon-OAUTH", filter: current, filterBeta: currentBeta},
		{name: "providers workforce", path: "identity/identityProviders", typ: "identityProviderBase", tok: f.wf, entity: "MSASignup-OAUTH", filter: current, filterBeta: currentBeta},
		{name: "providers external", path: "identity/identityProviders", typ: "identityProviderBase", tok: f.ext, entity: f.extOIDC, filter: current, filterBeta: currentBeta},
		{name: "deprecated b2c", path: "identityProviders", typ: "identityProvider", tok: f.b2c, entity: "Google-OAUTH", filter: deprecated, filterBeta: deprecatedBeta},
		{name: "deprecated workforce", path: "identityProviders", typ: "identityProvider", tok: f.wf, entity: "Facebook-OAUTH", filter: deprecated, filterBeta: deprecatedBeta},
		{name: "b2x flows", path: "identity/b2xUserFlows", typ: "b2xIdentityUserFlow", tok: f.wf, entity: "B2X_1_Vendor", filter: []string{"id", "userFlowType"}},
		{name: "b2c flows", path: "identity/b2cUserFlows", typ: "b2cIdentityUserFlow", tok: f.b2c, versions: beta, entity: "B2C_1_Profile",
			filter: []string{"id", "userFlowType", "defaultLanguageTag"}, filterBool: []string{"isLanguageCustomizationEnabled"}},
		{name: "b2x flow providers", path: "identity/b2xUserFlows/B2X_1_Partner/identityProviders", typ: "identityProvider", tok: f.wf,
			filter: deprecated, filterBeta: deprecatedBeta},
		{name: "b2c flow providers", path: "identity/b2cUserFlows/B2C_1_SignUp/identityProviders", typ: "identityProvider", tok: f.b2c, versions: beta,
			filter: deprecated, filterBeta: deprecatedBeta},
	}
}

// --- $select -----------------------------------------------------------------

// qtShownProps returns the properties the items show (not "id", not
// annotations), sorted.
func qtShownProps(items []map[string]any) []string {
	var out []string
	for _, it := range items {
		for k := range it {
			if k != "id" && !strings.HasPrefix(k, "@") && !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// qtProjected returns the keys of full (in order) that a projection on
// want keeps: annotations, id and the wanted properties.
func qtProjected(keys []string, want []string) []string {
	var out []string
	for _, k := range keys {
		if k == "id" || k == "@odata.type" || k == "@odata.context" || slices.Contains(want, k) {
			out = append(out, k)
		}
	}
	return out
}

// qtCheckSelect reads base with $select=value and compares each item with
// the same item of full (base without $select): the same items in the same
// order, each with id, @odata.type and the properties of want (canonical
// spelling, in $select's order) only, in the unselected order and with
// the unselected values; @odata.context lists want.
func qtCheckSelect(t *testing.T, s *testServer, tok, base string, full qtPage, value string, want ...string) qtPage {
	t.Helper()
	path := qtWith(base, "$select", value)
	sel := qtGetPage(t, s, tok, path)
	if len(sel.Items) != len(full.Items) {
		t.Fatalf("GET %s: %d items, without $select %d", path, len(sel.Items), len(full.Items))
	}
	for i := range sel.Items {
		keys := qtKeys(t, sel.Raw[i])
		if d := cmp.Diff(qtProjected(qtKeys(t, full.Raw[i]), want), keys); d != "" {
			t.Errorf("GET %s: item %d members (-want +got):\n%s", path, i, d)
		}
		for _, k := range keys {
			if d := cmp.Diff(full.Items[i][k], sel.Items[i][k]); d != "" {
				t.Errorf("GET %s: item %d %q differs from the unselected item (-full +selected):\n%s", path, i, k, d)
			}
		}
	}
	wantCtx := ""
	if full.Context != "" {
		wantCtx = full.Context + "(" + strings.Join(want, ",") + ")"
	}
	if sel.Context != wantCtx {
		t.Errorf("GET %s: @odata.context %q, want %q", path, sel.Context, wantCtx)
	}
	return sel
}

// qtGetObject reads one entity.
func qtGetObject(t *testing.T, s *testServer, tok, path string) (map[string]any, []byte) {
	t.Helper()
	r := qtDo(t, s, request{Path: path, Token: tok})
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200; body %s", path, r.Status, r.Body)
	}
	for _, sec := range qtAllSecrets() {
		if bytes.Contains(r.Body, []byte(sec)) {
			t.Errorf("GET %s: the body shows the secret %q", path, sec)
		}
	}
	return ufObject(t, r), r.Body
}

// qtCheckSelectEntity is qtCheckSelect for an entity read; its context
// is ...(props)/$entity.
func qtCheckSelectEntity(t *testing.T, s *testServer, tok, path, value string, want ...string) map[string]any {
	t.Helper()
	full, fullRaw := qtGetObject(t, s, tok, path)
	p := qtWith(path, "$select", value)
	sel, selRaw := qtGetObject(t, s, tok, p)
	keys := qtKeys(t, selRaw)
	if d := cmp.Diff(qtProjected(qtKeys(t, fullRaw), want), keys); d != "" {
		t.Errorf("GET %s: members (-want +got):\n%s", p, d)
	}
	for _, k := range keys {
		if k == "@odata.context" {
			continue
		}
		if d := cmp.Diff(full[k], sel[k]); d != "" {
			t.Errorf("GET %s: %q differs from the unselected entity (-full +selected):\n%s", p, k, d)
		}
	}
	if c, ok := full["@odata.context"].(string); ok {
		base, isEntity := strings.CutSuffix(c, "/$entity")
		if !isEntity {
			t.Fatalf("GET %s: entity @odata.context %q", path, c)
		}
		if got, want := sel["@odata.context"], base+"("+strings.Join(want, ",")+")/$entity"; got != want {
			t.Errorf("GET %s: @odata.context %v, want %q", p, got, want)
		}
	} else if _, ok := sel["@odata.context"]; ok {
		t.Errorf("GET %s: @odata.context %v, the unselected entity has none", p, sel["@odata.context"])
	}
	return sel
}

// Every property an item of any collection shows can be selected, alone,
// with others, spelled in any case; the entity reads take $select too.
func TestQuerySelect(t *testing.T) {
	f := newQTFixture(t)
	s := f.s
	for _, c := range f.colls() {
		for _, v := range c.inVersions() {
			t.Run(c.name+" "+v, func(t *testing.T) {
				base := "/" + v + "/" + c.path
				full := qtGetPage(t, s, c.tok, base)
				if len(full.Items) == 0 || full.NextLink != "" {
					t.Fatalf("fixture: GET %s: %d items, nextLink %q", base, len(full.Items), full.NextLink)
				}
				props := qtShownProps(full.Items)
				for _, p := range props {
					t.Run(p, func(t *testing.T) {
						qtCheckSelect(t, s, c.tok, base, full, p, p)
						qtCheckSelect(t, s, c.tok, base, full, strings.ToUpper(p), p)
					})
				}
				qtCheckSelect(t, s, c.tok, base, full, "id", "id")
				// Several: the items keep the unselected order; the context
				// lists them as asked.
				rev := slices.Clone(props)
				slices.Reverse(rev)
				t.Run("several", func(t *testing.T) {
					qtCheckSelect(t, s, c.tok, base, full, strings.Join(rev, ","), rev...)
					qtCheckSelect(t, s, c.tok, base, full, strings.Join(rev, " , "), rev...)
					if len(props) >= 2 {
						qtCheckSelect(t, s, c.tok, base, full, props[1]+","+props[0], props[1], props[0])
					}
				})
				// * is every property.
				star := qtGetPage(t, s, c.tok, qtWith(base, "$select", "*"))
				if d := cmp.Diff(full.Items, star.Items); d != "" {
					t.Errorf("$select=*: items differ from the unselected ones (-want +got):\n%s", d)
				}
				// Unknown properties.
				for _, bad := range []struct{ sel, name string }{{"bogus", "bogus"}, {"id,bogus", "bogus"}, {"Bogus,id", "Bogus"}} {
					qtReject(t, s, c.tok, qtWith(base, "$select", bad.sel), http.StatusBadRequest, "",
						"Could not find a property named '"+bad.name+"' on type 'microsoft.graph."+c.typ+"'.")
				}
				if c.entity == "" {
					return
				}
				ep := base + "/" + url.PathEscape(c.entity)
				ent, _ := qtGetObject(t, s, c.tok, ep)
				for _, p := range qtShownProps([]map[string]any{ent}) {
					t.Run("entity "+p, func(t *testing.T) {
						qtCheckSelectEntity(t, s, c.tok, ep, p, p)
						qtCheckSelectEntity(t, s, c.tok, ep, strings.ToUpper(p), p)
					})
				}
				qtCheckSelectEntity(t, s, c.tok, ep, "id", "id")
				qtReject(t, s, c.tok, qtWith(ep, "$select", "bogus"), http.StatusBadRequest, "",
					"Could not find a property named 'bogus' on type 'microsoft.graph."+c.typ+"'.")
			})
		}
	}
}

// The exact shapes of the contract's examples, and secrets: a selected
// secret is still the mask.
func TestQuerySelectShapes(t *testing.T) {
	f := newQTFixture(t)
	s := f.s
	for _, v := range qtVersions {
		t.Run(v, func(t *testing.T) {
			root := ufGraphRoot + "/" + v
			p := qtGetPage(t, s, f.b2c, "/"+v+"/identity/apiConnectors?$select=displayName,targetUrl")
			if want := root + "/$metadata#identity/apiConnectors(displayName,targetUrl)"; p.Context != want {
				t.Errorf("@odata.context %q, want %q", p.Context, want)
			}
			for i, raw := range p.Raw {
				if d := cmp.Diff([]string{"id", "displayName", "targetUrl"}, qtKeys(t, raw)); d != "" {
					t.Errorf("item %d (-want +got):\n%s", i, d)
				}
			}
			// Spelled in another case and order: the response spells and orders them as the model does.
			p = qtGetPage(t, s, f.b2c, "/"+v+"/identity/apiConnectors?$select=TARGETURL,displayname")
			if want := root + "/$metadata#identity/apiConnectors(targetUrl,displayName)"; p.Context != want {
				t.Errorf("@odata.context %q, want %q", p.Context, want)
			}
			for i, raw := range p.Raw {
				if d := cmp.Diff([]string{"id", "displayName", "targetUrl"}, qtKeys(t, raw)); d != "" {
					t.Errorf("item %d (-want +got):\n%s", i, d)
				}
			}
			e, raw := qtGetObject(t, s, f.b2c, "/"+v+"/identity/apiConnectors/"+f.conn["Alpha"]+"?$select=displayName")
			if want := root + "/$metadata#identity/apiConnectors(displayName)/$entity"; e["@odata.context"] != want {
				t.Errorf("entity @odata.context %v, want %q", e["@odata.context"], want)
			}
			if d := cmp.Diff([]string{"@odata.context", "@odata.type", "id", "displayName"}, qtKeys(t, raw)); d != "" {
				t.Errorf("entity members (-want +got):\n%s", d)
			}

			// Secrets stay masked.
			p = qtGetPage(t, s, f.b2c, "/"+v+"/identity/apiConnectors?$select=authenticationConfiguration")
			for _, it := range p.Items {
				ac, _ := it["authenticationConfiguration"].(map[string]any)
				if ac["password"] != graph.MaskSix {
					t.Errorf("selected authenticationConfiguration %v: password is not the mask", ac)
				}
			}
			p = qtGetPage(t, s, f.b2c, "/"+v+"/identity/identityProviders?$select=clientSecret,certificateData")
			for _, it := range p.Items {
				switch it["id"] {
				case "Amazon-OAUTH", "Google-OAUTH", f.oidc:
					if it["clientSecret"] != graph.MaskSix {
						t.Errorf("selected clientSecret of %v: %v", it["id"], it["clientSecret"])
					}
				case graph.AppleManagedProviderID:
					if it["certificateData"] != graph.MaskSix {
						t.Errorf("selected certificateData of Apple: %v", it["certificateData"])
					}
				}
			}
			p = qtGetPage(t, s, f.b2c, "/"+v+"/identityProviders?$select=clientSecret")
			for _, it := range p.Items {
				if it["clientSecret"] != graph.MaskFive {
					t.Errorf("deprecated view: selected clientSecret of %v: %v", it["id"], it["clientSecret"])
				}
			}
			e, _ = qtGetObject(t, s, f.b2c, "/"+v+"/identity/identityProviders/Amazon-OAUTH?$select=clientSecret")
			if e["clientSecret"] != graph.MaskSix {
				t.Errorf("entity: selected clientSecret %v", e["clientSecret"])
			}
			e, _ = qtGetObject(t, s, f.ext, "/"+v+"/identity/identityProviders/"+f.extOIDC+"?$select=clientAuthentication")
			if ca, _ := e["clientAuthentication"].(map[string]any); ca["clientSecret"] != graph.MaskFive {
				t.Errorf("entity: selected clientAuthentication %v", e["clientAuthentication"])
			}

			// Properties of the other view or version are unknown.
			qtReject(t, s, f.b2c, "/"+v+"/identityProviders?$select=displayName", http.StatusBadRequest, "",
				"Could not find a property named 'displayName' on type 'microsoft.graph.identityProvider'.")
			qtReject(t, s, f.b2c, "/"+v+"/identity/identityProviders?$select=name", http.StatusBadRequest, "",
				"Could not find a property named 'name' on type 'microsoft.graph.identityProviderBase'.")
			qtReject(t, s, f.b2c, "/"+v+"/identity/apiConnectors?$select=clientSecret", http.StatusBadRequest, "",
				"Could not find a property named 'clientSecret' on type 'microsoft.graph.identityApiConnector'.")
			qtReject(t, s, f.b2c, "/"+v+"/identity/apiConnectors?$select=authenticationConfiguration/password", http.StatusBadRequest, "", "")
			for _, bad := range []string{"", ",", "displayName,", "display name", "@odata.type"} {
				qtReject(t, s, f.b2c, qtWith("/"+v+"/identity/apiConnectors", "$select", bad), http.StatusBadRequest, "", "")
			}
		})
	}
	// openIdConnect properties exist on beta only.
	qtGetPage(t, s, f.b2c, "/beta/identity/identityProviders?$select=claimsMapping,domainHint")
	qtReject(t, s, f.b2c, "/v1.0/identity/identityProviders?$select=claimsMapping", http.StatusBadRequest, "",
		"Could not find a property named 'claimsMapping' on type 'microsoft.graph.identityProviderBase'.")
	qtGetPage(t, s, f.b2c, "/beta/identityProviders?$select=metadataUrl")
	qtReject(t, s, f.b2c, "/v1.0/identityProviders?$select=metadataUrl", http.StatusBadRequest, "",
		"Could not find a property named 'metadataUrl' on type 'microsoft.graph.identityProvider'.")
}

// --- $filter -----------------------------------------------------------------

// qtFilterIDs reads every page of base with the filter and returns the ids.
func qtFilterIDs(t *testing.T, s *testServer, tok, base, filter string) []string {
	t.Helper()
	ids := ufIDs(qtAll(t, s, tok, qtWith(base, "$filter", filter)))
	if ids == nil {
		ids = []string{}
	}
	return ids
}

// qtWhere returns the ids of the items for which keep holds, in order.
func qtWhere(items []map[string]any, keep func(map[string]any) bool) []string {
	out := []string{}
	for _, it := range items {
		if keep(it) {
			id, _ := it["id"].(string)
			out = append(out, id)
		}
	}
	return out
}

// Every filterable property filters by the values the items show: eq and
// ne with each value shown (in another case too), eq and ne null; a
// property the items show that is not filterable is refused with
// Request_UnsupportedQuery.
func TestQueryFilterMatchesShownValues(t *testing.T) {
	f := newQTFixture(t)
	s := f.s
	for _, c := range f.colls() {
		for _, v := range c.inVersions() {
			t.Run(c.name+" "+v, func(t *testing.T) {
				base := "/" + v + "/" + c.path
				full := qtAll(t, s, c.tok, base)
				props := c.filterable(v)
				for _, p := range props {
					t.Run(p, func(t *testing.T) {
						var values []string
						for _, it := range full {
							if sv, ok := it[p].(string); ok && !slices.Contains(values, sv) {
								values = append(values, sv)
							}
						}
						values = append(values, "no-such-value")
						for _, val := range values {
							is := func(it map[string]any) bool { sv, ok := it[p].(string); return ok && strings.EqualFold(sv, val) }
							eq := qtWhere(full, is)
							ne := qtWhere(full, func(it map[string]any) bool { return !is(it) })
							for _, lit := range []string{val, strings.ToUpper(val), strings.ToLower(val)} {
								for _, tc := range []struct {
									filter string
									want   []string
								}{
									{p + " eq " + qtQuote(lit), eq},
									{p + " ne " + qtQuote(lit), ne},
									{qtQuote(lit) + " eq " + p, eq},
									{p + " in (" + qtQuote(lit) + ", 'no-such-value-2')", eq},
									// As in OData, a missing value is null: null eq 'x' is
									// false, so its negation holds.
									{"not (" + p + " in (" + qtQuote(lit) + "))", ne},
									{"not (" + p + " eq " + qtQuote(lit) + ")", ne},
								} {
									if d := cmp.Diff(tc.want, qtFilterIDs(t, s, c.tok, base, tc.filter)); d != "" {
										t.Errorf("$filter=%s (-want +got):\n%s", tc.filter, d)
									}
								}
							}
							if val != "" {
								lower := strings.ToLower(val)
								prefix := qtWhere(full, func(it map[string]any) bool {
									sv, ok := it[p].(string)
									return ok && strings.HasPrefix(strings.ToLower(sv), lower[:len(lower)/2+1])
								})
								suffix := qtWhere(full, func(it map[string]any) bool {
									sv, ok := it[p].(string)
									return ok && strings.HasSuffix(strings.ToLower(sv), lower[len(lower)/2:])
								})
								// startswith and endswith of a missing value are unknown,
								// and so is their negation.
								present := func(ids []string) []string {
									return qtWhere(full, func(it map[string]any) bool {
										id, _ := it["id"].(string)
										return it[p] != nil && !slices.Contains(ids, id)
									})
								}
								for _, tc := range []struct {
									filter string
									want   []string
								}{
									{"startswith(" + p + ", " + qtQuote(strings.ToUpper(val[:len(val)/2+1])) + ")", prefix},
									{"endswith(" + p + ", " + qtQuote(strings.ToUpper(val[len(val)/2:])) + ")", suffix},
									{"not startswith(" + p + ", " + qtQuote(strings.ToUpper(val[:len(val)/2+1])) + ")", present(prefix)},
									{"not endswith(" + p + ", " + qtQuote(strings.ToUpper(val[len(val)/2:])) + ")", present(suffix)},
								} {
									if d := cmp.Diff(tc.want, qtFilterIDs(t, s, c.tok, base, tc.filter)); d != "" {
										t.Errorf("$filter=%s (-want +got):\n%s", tc.filter, d)
									}
								}
							}
						}
						isNull := func(it map[string]any) bool { return it[p] == nil }
						for _, tc := range []struct {
							filter string
							want   []string
						}{
							{p + " eq null", qtWhere(full, isNull)},
							{p + " ne null", qtWhere(full, func(it map[string]any) bool { return !isNull(it) })},
							{"null eq " + p, qtWhere(full, isNull)},
						} {
							if d := cmp.Diff(tc.want, qtFilterIDs(t, s, c.tok, base, tc.filter)); d != "" {
								t.Errorf("$filter=%s (-want +got):\n%s", tc.filter, d)
							}
						}
					})
				}
				for _, p := range c.filterBool {
					for _, b := range []bool{true, false} {
						want := qtWhere(full, func(it map[string]any) bool { return it[p] == b })
						notWant := qtWhere(full, func(it map[string]any) bool { return it[p] != b })
						lit := strconv.FormatBool(b)
						for _, tc := range []struct {
							filter string
							want   []string
						}{
							{p + " eq " + lit, want},
							{strings.ToUpper(p) + " EQ " + strings.ToUpper(lit), want},
							{lit + " eq " + p, want},
							{p + " ne " + lit, notWant},
							{p + " in (" + lit + ")", want},
							{"not (" + p + " eq " + lit + ")", notWant},
						} {
							if d := cmp.Diff(tc.want, qtFilterIDs(t, s, c.tok, base, tc.filter)); d != "" {
								t.Errorf("$filter=%s (-want +got):\n%s", tc.filter, d)
							}
						}
					}
					for _, bad := range []string{p + " eq 'true'", "startswith(" + p + ", 't')", p + " eq 6ba7b810-9dad-11d1-80b4-00c04fd430c8"} {
						qtReject(t, s, c.tok, qtWith(base, "$filter", bad), http.StatusBadRequest, "", "")
					}
				}
				// Shown but not filterable: secrets, complex and numeric properties.
				for _, p := range qtShownProps(full) {
					if slices.Contains(props, p) || slices.Contains(c.filterBool, p) {
						continue
					}
					for _, filter := range []string{p + " eq null", p + " eq 'x'", "startswith(" + p + ", 'x')", p + " in ('x')"} {
						qtReject(t, s, c.tok, qtWith(base, "$filter", filter), http.StatusBadRequest, "Request_UnsupportedQuery", p)
					}
				}
				for _, filter := range []string{"bogus eq 'x'", "bogus eq null", "id/bogus eq 'x'", "endswith(bogus, 'x')"} {
					qtReject(t, s, c.tok, qtWith(base, "$filter", filter), http.StatusBadRequest, "Request_UnsupportedQuery", "bogus")
				}
			})
		}
	}
}

// qtFilterCase is a $filter and the ids it selects, in the default order.
type qtFilterCase struct {
	filter   string
	want     []string // on v1.0, and on beta unless wantBeta is set
	wantBeta []string
}

func TestQueryFilter(t *testing.T) {
	f := newQTFixture(t)
	s := f.s
	ids := f.ids
	beta := ids("Beta")[0]
	connectors := []qtFilterCase{
		{filter: "displayName eq 'Alpha'", want: ids("Alpha")},
		{filter: "displayName eq 'ALPHA'", want: ids("Alpha")},
		{filter: "DisplayName EQ 'alpha'", want: ids("Alpha")},
		{filter: "displayName ne 'Alpha'", want: f.allBut("Alpha")},
		{filter: "displayName Ne 'alpha TWO'", want: f.allBut("alpha two")},
		{filter: "startswith(displayName,'alpha')", want: ids("Alpha", "alpha two")},
		{filter: "StartsWith(DISPLAYNAME, 'ALP')", want: ids("Alpha", "alpha two")},
		{filter: "startswith(displayName, '')", want: f.allBut()},
		{filter: "endswith(displayName,'TWO')", want: ids("alpha two")},
		{filter: "ENDSWITH(displayName,'a')", want: ids("Alpha", "Beta", "Gamma")},
		{filter: "endswith(targetUrl,'/validate')", want: ids("Gamma")},
		{filter: "startswith(targetUrl,'https://api.example.com/')", want: ids("Alpha", "Beta", "O'Brien check")},
		{filter: "displayName in ('Beta','gamma','nope')", want: ids("Beta", "Gamma")},
		{filter: "displayName IN ('BETA')", want: ids("Beta")},
		{filter: "displayName eq 'Alpha' or displayName eq 'Beta'", want: ids("Alpha", "Beta")},
		{filter: "displayName eq 'Alpha' OR displayName eq 'Beta'", want: ids("Alpha", "Beta")},
		{filter: "startswith(displayName,'a') and endswith(displayName,'a')", want: ids("Alpha")},
		{filter: "startswith(displayName,'a') AND endswith(displayName,'O')", want: ids("alpha two")},
		{filter: "not startswith(displayName,'a')", want: ids("Beta", "O'Brien check", "Gamma")},
		{filter: "NOT(startswith(displayName,'a'))", want: ids("Beta", "O'Brien check", "Gamma")},
		{filter: "not not startswith(displayName,'a')", want: ids("Alpha", "alpha two")},
		{filter: "not (displayName eq 'Alpha' or displayName eq 'Beta')", want: ids("alpha two", "O'Brien check", "Gamma")},
		{filter: "(displayName eq 'Alpha' or displayName eq 'Beta') and startswith(targetUrl,'https://api.')", want: ids("Alpha", "Beta")},
		// and binds tighter than or.
		{filter: "displayName eq 'Alpha' or displayName eq 'Beta' and startswith(targetUrl,'https://hooks')", want: ids("Alpha")},
		{filter: "(displayName eq 'Alpha' or displayName eq 'Beta') and startswith(targetUrl,'https://hooks')", want: []string{}},
		{filter: "((((displayName eq 'Gamma'))))", want: ids("Gamma")},
		// '' is a quote.
		{filter: "displayName eq 'O''Brien check'", want: ids("O'Brien check")},
		{filter: "startswith(displayName,'o''b')", want: ids("O'Brien check")},
		{filter: "displayName in ('O''Brien check', 'Alpha')", want: ids("Alpha", "O'Brien check")},
		{filter: "displayName eq 'O''''Brien check'", want: []string{}},
		// Literal first.
		{filter: "'Alpha' eq displayName", want: ids("Alpha")},
		{filter: "'Alpha' ne displayName", want: f.allBut("Alpha")},
		// The id, by GUID literal (any case), quoted, in a list, literal first.
		{filter: "id eq " + beta, want: ids("Beta")},
		{filter: "id eq " + strings.ToUpper(beta), want: ids("Beta")},
		{filter: "id eq '" + strings.ToUpper(beta) + "'", want: ids("Beta")},
		{filter: beta + " eq id", want: ids("Beta")},
		{filter: "id ne " + beta, want: f.allBut("Beta")},
		{filter: "id in (" + f.conn["Alpha"] + ", " + f.conn["Gamma"] + ")", want: ids("Alpha", "Gamma")},
		{filter: "id eq 00000000-0000-0000-0000-000000000000", want: []string{}},
		{filter: "startswith(id, '" + beta[:8] + "')", want: ids("Beta")},
		// null.
		{filter: "displayName eq null", want: []string{}},
		{filter: "displayName ne null", want: f.allBut()},
		{filter: "targetUrl eq null", want: []string{}},
		{filter: "displayName in ('Alpha', null)", want: ids("Alpha")},
		{filter: "displayName eq 'Alpha' and not (id eq " + f.conn["Alpha"] + ")", want: []string{}},
		{filter: "displayName eq 'no such connector'", want: []string{}},
	}
	providers := []qtFilterCase{
		{filter: "identityProviderType eq 'amazon'", want: []string{"Amazon-OAUTH"}},
		{filter: "identityProviderType in ('Amazon','GOOGLE')", want: []string{"Amazon-OAUTH", "Google-OAUTH"}},
		{filter: "startswith(displayName,'login with')", want: []string{"Amazon-OAUTH", "Google-OAUTH"}},
		{filter: "id eq 'amazon-oauth'", want: []string{"Amazon-OAUTH"}},
		{filter: "clientId eq null", want: []string{graph.AppleManagedProviderID}},
		{filter: "clientId ne null", want: []string{"Amazon-OAUTH", "Google-OAUTH"}, wantBeta: []string{"Amazon-OAUTH", "Google-OAUTH", f.oidc}},
		{filter: "developerId eq 'ubf8t346g9'", want: []string{graph.AppleManagedProviderID}},
		{filter: "serviceId eq 'com.contoso.app' and keyId eq '99P6D879C4'", want: []string{graph.AppleManagedProviderID}},
		// The beta-only openIdConnect provider never shows on v1.0.
		{filter: "displayName eq 'Contoso B2C'", want: []string{}, wantBeta: []string{f.oidc}},
		{filter: "id eq '" + f.oidc + "'", want: []string{}, wantBeta: []string{f.oidc}},
		{filter: "clientId eq 'cid-oidc'", want: []string{}, wantBeta: []string{f.oidc}},
		{filter: "responseType eq 'code' or scope eq 'openid'", want: []string{}, wantBeta: []string{f.oidc}},
		{filter: "not (id eq 'Amazon-OAUTH')", want: []string{"Google-OAUTH", graph.AppleManagedProviderID},
			wantBeta: []string{"Google-OAUTH", graph.AppleManagedProviderID, f.oidc}},
		{filter: "id ne 'x' or id eq '" + f.oidc + "'", want: []string{"Amazon-OAUTH", "Google-OAUTH", graph.AppleManagedProviderID},
			wantBeta: []string{"Amazon-OAUTH", "Google-OAUTH", graph.AppleManagedProviderID, f.oidc}},
	}
	deprecated := []qtFilterCase{
		{filter: "name eq 'login with amazon'", want: []string{"Amazon-OAUTH"}},
		{filter: "type eq 'Google'", want: []string{"Google-OAUTH"}},
		{filter: "type in ('AMAZON','google')", want: []string{"Amazon-OAUTH", "Google-OAUTH"}},
		{filter: "startswith(name,'Contoso')", want: []string{}, wantBeta: []string{f.oidc}},
		{filter: "clientId eq 'cid-oidc'", want: []string{}, wantBeta: []string{f.oidc}},
		{filter: "id eq '" + f.oidc + "'", want: []string{}, wantBeta: []string{f.oidc}},
		{filter: "type eq 'OpenIDConnect'", want: []string{}, wantBeta: []string{f.oidc}},
		{filter: "not (type eq 'Amazon')", want: []string{"Google-OAUTH"}, wantBeta: []string{"Google-OAUTH", f.oidc}},
		// The Apple provider is not in this view.
		{filter: "id eq 'Apple-Managed-OIDC'", want: []string{}},
		{filter: "clientId eq null", want: []string{}},
	}
	b2cFlows := []qtFilterCase{
		{filter: "isLanguageCustomizationEnabled eq true", want: []string{"B2C_1_Profile", "B2C_1_Reset"}},
		{filter: "isLanguageCustomizationEnabled eq false", want: []string{"B2C_1_SignUp"}},
		{filter: "isLanguageCustomizationEnabled ne true", want: []string{"B2C_1_SignUp"}},
		{filter: "false eq isLanguageCustomizationEnabled", want: []string{"B2C_1_SignUp"}},
		{filter: "isLanguageCustomizationEnabled in (true, false)", want: []string{"B2C_1_SignUp", "B2C_1_Profile", "B2C_1_Reset"}},
		{filter: "isLanguageCustomizationEnabled eq true and defaultLanguageTag eq 'FR-ca'", want: []string{"B2C_1_Profile"}},
		{filter: "not isLanguageCustomizationEnabled eq true", want: []string{"B2C_1_SignUp"}},
		{filter: "userFlowType in ('signUp','PASSWORDRESET')", want: []string{"B2C_1_SignUp", "B2C_1_Reset"}},
		{filter: "startswith(id,'b2c_1_s') or endswith(id, 'reset')", want: []string{"B2C_1_SignUp", "B2C_1_Reset"}},
	}
	for _, tc := range []struct {
		name, path, tok string
		versions        []string
		cases           []qtFilterCase
	}{
		{"connectors", "identity/apiConnectors", f.b2c, qtVersions, connectors},
		{"providers", "identity/identityProviders", f.b2c, qtVersions, providers},
		{"providers workforce", "identity/identityProviders", f.wf, qtVersions, []qtFilterCase{
			{filter: "identityProviderType eq 'MicrosoftAccount'", want: []string{"MSASignup-OAUTH"}},
			{filter: "identityProviderType ne 'MicrosoftAccount'", want: []string{"Google-OAUTH", "Facebook-OAUTH"}},
		}},
		{"providers external", "identity/identityProviders", f.ext, qtVersions, []qtFilterCase{
			{filter: "identityProviderType eq 'EmailOTP'", want: []string{"EmailOtpSignup-OAUTH"}},
			{filter: "issuer eq 'https://idp.contoso.example/tenant'", want: []string{f.extOIDC}},
			{filter: "endswith(wellKnownEndpoint, '/.well-known/openid-configuration')", want: []string{f.extOIDC}},
		}},
		{"deprecated", "identityProviders", f.b2c, qtVersions, deprecated},
		{"deprecated workforce", "identityProviders", f.wf, qtVersions, []qtFilterCase{
			{filter: "type eq 'facebook'", want: []string{"Facebook-OAUTH"}},
			{filter: "id eq 'MSASignup-OAUTH'", want: []string{}},
		}},
		{"b2x flows", "identity/b2xUserFlows", f.wf, qtVersions, []qtFilterCase{
			{filter: "userFlowType eq 'signUpOrSignIn'", want: []string{"B2X_1_Partner", "B2X_1_Vendor"}},
			{filter: "id eq 'b2x_1_partner'", want: []string{"B2X_1_Partner"}},
			{filter: "startswith(id,'B2X_1_V')", want: []string{"B2X_1_Vendor"}},
		}},
		{"b2c flows", "identity/b2cUserFlows", f.b2c, []string{"beta"}, b2cFlows},
		{"b2x flow providers", "identity/b2xUserFlows/B2X_1_Partner/identityProviders", f.wf, qtVersions, []qtFilterCase{
			{filter: "type eq 'Google'", want: []string{"Google-OAUTH"}},
			{filter: "name eq 'Login with Facebook' or name eq 'Login with Amazon'", want: []string{"Facebook-OAUTH"}},
		}},
		{"b2c flow providers", "identity/b2cUserFlows/B2C_1_SignUp/identityProviders", f.b2c, []string{"beta"}, []qtFilterCase{
			{filter: "type eq 'OpenIDConnect'", want: []string{f.oidc}},
			{filter: "startswith(name, 'login')", want: []string{"Amazon-OAUTH"}},
			{filter: "id eq 'Google-OAUTH'", want: []string{}},
		}},
	} {
		for _, v := range tc.versions {
			t.Run(tc.name+" "+v, func(t *testing.T) {
				base := "/" + v + "/" + tc.path
				for _, c := range tc.cases {
					want := c.want
					if v == "beta" && c.wantBeta != nil {
						want = c.wantBeta
					}
					if d := cmp.Diff(want, qtFilterIDs(t, s, tc.tok, base, c.filter)); d != "" {
						t.Errorf("$filter=%s (-want +got):\n%s", c.filter, d)
					}
				}
			})
		}
	}

	// '+' in a query is a space too.
	for _, v := range qtVersions {
		got := ufIDs(qtGetPage(t, s, f.b2c, "/"+v+"/identity/apiConnectors?$filter=displayName+eq+'Beta'").Items)
		if d := cmp.Diff(ids("Beta"), got); d != "" {
			t.Errorf("%s: $filter with '+' for spaces (-want +got):\n%s", v, d)
		}
	}
}

// Refused filters: properties that cannot be filtered (secrets, complex,
// unknown), syntax errors, too many nodes, too long a URL.
func TestQueryFilterErrors(t *testing.T) {
	f := newQTFixture(t)
	s := f.s
	unsupported := []struct {
		path, tok, filter, prop string
		versions                []string
	}{
		{"identity/apiConnectors", f.b2c, "authenticationConfiguration eq null", "authenticationConfiguration", nil},
		{"identity/apiConnectors", f.b2c, "authenticationConfiguration/password eq 'x'", "authenticationConfiguration/password", nil},
		{"identity/apiConnectors", f.b2c, "password eq 'x'", "password", nil},
		{"identity/apiConnectors", f.b2c, "clientSecret eq 'x'", "clientSecret", nil},
		{"identity/apiConnectors", f.b2c, "displayName eq 'Alpha' and colour eq 'blue'", "colour", nil},
		{"identity/apiConnectors", f.b2c, "startswith(colour, 'x')", "colour", nil},
		{"identity/identityProviders", f.b2c, "clientSecret eq 'x'", "clientSecret", nil},
		{"identity/identityProviders", f.b2c, "clientSecret ne null", "clientSecret", nil},
		{"identity/identityProviders", f.b2c, "certificateData eq null", "certificateData", nil},
		{"identity/identityProviders", f.b2c, "claimsMapping/userId eq 'sub'", "claimsMapping/userId", nil},
		{"identity/identityProviders", f.ext, "clientAuthentication/clientSecret eq 'x'", "clientAuthentication/clientSecret", nil},
		{"identity/identityProviders", f.ext, "inboundClaimMapping eq null", "inboundClaimMapping", nil},
		{"identity/identityProviders", f.b2c, "name eq 'x'", "name", nil},
		{"identity/identityProviders", f.b2c, "domainHint eq 'contoso'", "domainHint", []string{"v1.0"}},
		{"identityProviders", f.b2c, "clientSecret eq 'x'", "clientSecret", nil},
		{"identityProviders", f.b2c, "displayName eq 'x'", "displayName", nil},
		{"identityProviders", f.b2c, "identityProviderType eq 'Amazon'", "identityProviderType", nil},
		{"identityProviders", f.b2c, "claimsMapping eq null", "claimsMapping", []string{"beta"}},
		{"identityProviders", f.b2c, "metadataUrl eq 'x'", "metadataUrl", []string{"v1.0"}},
		{"identity/b2xUserFlows", f.wf, "userFlowTypeVersion eq '1'", "userFlowTypeVersion", nil},
		{"identity/b2xUserFlows", f.wf, "isLanguageCustomizationEnabled eq true", "isLanguageCustomizationEnabled", nil},
		{"identity/b2xUserFlows/B2X_1_Partner/identityProviders", f.wf, "clientSecret eq null", "clientSecret", nil},
	}
	for _, u := range unsupported {
		vs := u.versions
		if vs == nil {
			vs = qtVersions
		}
		for _, v := range vs {
			qtReject(t, s, u.tok, qtWith("/"+v+"/"+u.path, "$filter", u.filter), http.StatusBadRequest, "Request_UnsupportedQuery", "'"+u.prop+"'")
		}
	}

	syntax := []string{
		"", " ", "displayName", "displayName eq", "displayName eq 'x", "'x'", "(displayName eq 'x'", "displayName eq 'x')",
		"displayName eq 'x' and", "and displayName eq 'x'", "eq 'x'", "displayName 'x'", "displayName == 'x'",
		"contains(displayName,'x')", "startswith(displayName)", "startswith('x', displayName)", "startswith(displayName, 'x', 'y')",
		"displayName gt 'x'", "displayName le 'x'", "displayName has 'x'", "displayName eq 5", "displayName eq 1.5",
		"displayName eq 2024-01-01", "displayName in ()", "displayName in 'x'", "displayName in ('x',)", "displayName eq displayName",
		"'a' eq 'b'", "not", "not ()", "displayName eq \"x\"", "displayName eq 'x' or or displayName eq 'y'",
		"any(x: x eq 'y')", "displayName/any(x: x eq 'y')", "displayName eq 'x' xor displayName eq 'y'", "displayName eq 'x' ;",
		"displayName eq 'caf\u00e9' and", "displayName\teq\t", "$it eq 'x'", "displayName eq @p", "displayName eq -",
	}
	for _, v := range qtVersions {
		for _, filter := range syntax {
			qtReject(t, s, f.b2c, qtWith("/"+v+"/identity/apiConnectors", "$filter", filter), http.StatusBadRequest, "BadRequest", "Invalid filter clause")
		}
		// A literal of the wrong type for the property.
		for _, filter := range []string{"displayName eq true", "id eq false", "displayName in ('a', true)"} {
			qtReject(t, s, f.b2c, qtWith("/"+v+"/identity/apiConnectors", "$filter", filter), http.StatusBadRequest, "", "")
		}

		// At most 100 nodes: "p in (l1, ..., ln)" has n+2.
		in := func(n int) string {
			lits := make([]string, n)
			for i := range lits {
				lits[i] = fmt.Sprintf("'v%d'", i)
			}
			lits[n-1] = "'Gamma'"
			return "displayName in (" + strings.Join(lits, ",") + ")"
		}
		if got := qtFilterIDs(t, s, f.b2c, "/"+v+"/identity/apiConnectors", in(98)); !slices.Equal(got, f.ids("Gamma")) {
			t.Errorf("%s: a filter of 100 nodes: %v, want Gamma", v, got)
		}
		qtReject(t, s, f.b2c, qtWith("/"+v+"/identity/apiConnectors", "$filter", in(99)), http.StatusBadRequest, "BadRequest", "node count limit")
		or := strings.Repeat("displayName eq 'x' or ", 40) + "displayName eq 'x'"
		qtReject(t, s, f.b2c, qtWith("/"+v+"/identity/apiConnectors", "$filter", or), http.StatusBadRequest, "BadRequest", "node count limit")
		deep := strings.Repeat("(", 200) + "displayName eq 'x'" + strings.Repeat(")", 200)
		qtReject(t, s, f.b2c, qtWith("/"+v+"/identity/apiConnectors", "$filter", deep), http.StatusBadRequest, "BadRequest", "")
		nots := strings.Repeat("not ", 200) + "displayName eq 'x'"
		qtReject(t, s, f.b2c, qtWith("/"+v+"/identity/apiConnectors", "$filter", nots), http.StatusBadRequest, "BadRequest", "")

		// A URL (path and query) of 8 KiB is served; one byte more is refused.
		for _, path := range []string{"/" + v + "/identity/apiConnectors", "/" + v + "/identityProviders", "/" + v + "/identity/identityProviders/$count"} {
			prop := "displayName"
			if strings.HasSuffix(path, "/identityProviders") {
				prop = "name"
			}
			prefix := path + "?$filter=" + prop + "%20eq%20'"
			pad := 8<<10 - (len(prefix) - 1) - 1 // len counts the '?'; the closing quote is 1
			at := prefix + strings.Repeat("x", pad) + "'"
			if n := len(at) - 1; n != 8<<10 {
				t.Fatalf("URL length %d", n)
			}
			if r := qtDo(t, s, request{Path: at, Token: f.b2c}); r.Status != http.StatusOK {
				t.Errorf("GET %s with a URL of 8192 bytes: status %d; body %.300s", path, r.Status, r.Body)
			}
			over := prefix + strings.Repeat("x", pad+1) + "'"
			qtReject(t, s, f.b2c, over, http.StatusBadRequest, "", "")
			qtReject(t, s, f.b2c, path+"?$filter="+strings.Repeat("(", 9000), http.StatusBadRequest, "", "")
		}
	}
}

// --- $orderby ----------------------------------------------------------------

// qtCompare compares two items by an $orderby value of string keys
// (displayName, name, id; ignoring case), returning -1, 0 or 1.
func qtCompare(orderby string, a, b map[string]any) int {
	for item := range strings.SplitSeq(orderby, ",") {
		f := strings.Fields(item)
		prop := f[0]
		for k := range a {
			if strings.EqualFold(k, prop) {
				prop = k
			}
		}
		x, _ := a[prop].(string)
		y, _ := b[prop].(string)
		c := strings.Compare(strings.ToLower(x), strings.ToLower(y))
		if len(f) > 1 && strings.EqualFold(f[1], "desc") {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func TestQueryOrderBy(t *testing.T) {
	f := newQTFixture(t)
	s := f.s
	// Names equal but for case tie; the fixture's names come first.
	for _, n := range []string{"delta", "Charlie", "bravo", "Delta", "echo", "charlie", "DELTA"} {
		qtCreateConnector(t, s, f.b2c, n, "https://api.example.com/"+n)
	}
	for _, v := range qtVersions {
		base := "/" + v + "/identity/apiConnectors"
		all := qtGetPage(t, s, f.b2c, base).Items
		for _, ob := range []string{"displayName", "displayName asc", "DISPLAYNAME DESC", "displayName desc", "id", "ID asc", "id desc",
			"displayName desc,id", "displayName, id desc", "id,displayName", "displayName asc,id asc"} {
			t.Run(v+" "+ob, func(t *testing.T) {
				one := qtGetPage(t, s, f.b2c, qtWith(base, "$orderby", ob, "$top", "999"))
				if one.NextLink != "" || len(one.Items) != len(all) {
					t.Fatalf("$orderby=%s: %d items (nextLink %q), want %d", ob, len(one.Items), one.NextLink, len(all))
				}
				if !slices.IsSortedFunc(one.Items, func(a, b map[string]any) int { return qtCompare(ob, a, b) }) {
					t.Errorf("$orderby=%s: not in order: %v", ob, qtNames(one.Items))
				}
				if strings.Contains(strings.ToLower(ob), "id") {
					// A total order: exactly the sorted items.
					want := slices.Clone(all)
					slices.SortStableFunc(want, func(a, b map[string]any) int { return qtCompare(ob, a, b) })
					if d := cmp.Diff(ufIDs(want), ufIDs(one.Items)); d != "" {
						t.Errorf("$orderby=%s (-want +got):\n%s", ob, d)
					}
				}
				if d := cmp.Diff(qtSortedIDs(all), qtSortedIDs(one.Items)); d != "" {
					t.Errorf("$orderby=%s: not every item once (-want +got):\n%s", ob, d)
				}
				// Pages of 2 and 3 visit the same items in the same order,
				// also with a filter.
				for _, top := range []string{"1", "2", "3"} {
					paged, pages := qtFollow(t, s, f.b2c, ufGraphRoot, qtWith(base, "$orderby", ob, "$top", top))
					if d := cmp.Diff(ufIDs(one.Items), ufIDs(paged)); d != "" {
						t.Errorf("$orderby=%s&$top=%s: paged order differs from one page (-one +paged):\n%s", ob, top, d)
					}
					for _, p := range pages {
						if !strings.Contains(p.NextLink, "$orderby="+qtEnc(ob)) && p.NextLink != "" {
							t.Errorf("nextLink %q lost $orderby", p.NextLink)
						}
					}
				}
				filter := "not startswith(displayName, 'c') and displayName ne 'Alpha'"
				want := qtWhere(one.Items, func(it map[string]any) bool {
					n := strings.ToLower(it["displayName"].(string))
					return !strings.HasPrefix(n, "c") && n != "alpha"
				})
				paged, _ := qtFollow(t, s, f.b2c, ufGraphRoot, qtWith(base, "$filter", filter, "$orderby", ob, "$top", "2"))
				if d := cmp.Diff(want, ufIDs(paged)); d != "" {
					t.Errorf("$filter=%s&$orderby=%s&$top=2 (-want +got):\n%s", filter, ob, d)
				}
			})
		}
	}

	// The other collections order by their display name and id.
	for _, tc := range []struct {
		path, tok, orderby string
		want, wantBeta     []string
		versions           []string
	}{
		{"identity/identityProviders", f.b2c, "displayName desc", []string{graph.AppleManagedProviderID, "Google-OAUTH", "Amazon-OAUTH"},
			[]string{graph.AppleManagedProviderID, "Google-OAUTH", "Amazon-OAUTH", f.oidc}, nil},
		{"identity/identityProviders", f.b2c, "id", []string{"Amazon-OAUTH", graph.AppleManagedProviderID, "Google-OAUTH"},
			[]string{"Amazon-OAUTH", graph.AppleManagedProviderID, f.oidc, "Google-OAUTH"}, nil},
		{"identity/identityProviders", f.wf, "displayName", []string{"Facebook-OAUTH", "Google-OAUTH", "MSASignup-OAUTH"}, nil, nil},
		{"identityProviders", f.b2c, "name desc", []string{"Google-OAUTH", "Amazon-OAUTH"}, []string{"Google-OAUTH", "Amazon-OAUTH", f.oidc}, nil},
		{"identityProviders", f.b2c, "NAME", []string{"Amazon-OAUTH", "Google-OAUTH"}, []string{f.oidc, "Amazon-OAUTH", "Google-OAUTH"}, nil},
		{"identityProviders", f.b2c, "id desc", []string{"Google-OAUTH", "Amazon-OAUTH"}, []string{"Google-OAUTH", f.oidc, "Amazon-OAUTH"}, nil},
		{"identity/b2xUserFlows", f.wf, "id desc", []string{"B2X_1_Vendor", "B2X_1_Partner"}, nil, nil},
		{"identity/b2cUserFlows", f.b2c, "id desc", nil, []string{"B2C_1_SignUp", "B2C_1_Reset", "B2C_1_Profile"}, []string{"beta"}},
		{"identity/b2xUserFlows/B2X_1_Partner/identityProviders", f.wf, "name", []string{"Facebook-OAUTH", "Google-OAUTH"}, nil, nil},
		{"identity/b2cUserFlows/B2C_1_SignUp/identityProviders", f.b2c, "id desc", nil, []string{f.oidc, "Amazon-OAUTH"}, []string{"beta"}},
	} {
		vs := tc.versions
		if vs == nil {
			vs = qtVersions
		}
		for _, v := range vs {
			want := tc.want
			if v == "beta" && tc.wantBeta != nil {
				want = tc.wantBeta
			}
			for _, top := range []string{"999", "1"} {
				got, _ := qtFollow(t, s, tc.tok, ufGraphRoot, qtWith("/"+v+"/"+tc.path, "$orderby", tc.orderby, "$top", top))
				if d := cmp.Diff(want, ufIDs(got)); d != "" {
					t.Errorf("%s %s?$orderby=%s&$top=%s (-want +got):\n%s", v, tc.path, tc.orderby, top, d)
				}
			}
		}
	}

	// Other properties cannot order.
	for _, v := range qtVersions {
		for _, tc := range []struct{ path, tok, orderby string }{
			{"identity/apiConnectors", f.b2c, "targetUrl"},
			{"identity/apiConnectors", f.b2c, "name"},
			{"identity/apiConnectors", f.b2c, "displayName,targetUrl desc"},
			{"identity/apiConnectors", f.b2c, "authenticationConfiguration/password"},
			{"identity/identityProviders", f.b2c, "identityProviderType"},
			{"identity/identityProviders", f.b2c, "clientSecret"},
			{"identity/identityProviders", f.b2c, "name"},
			{"identityProviders", f.b2c, "displayName"},
			{"identityProviders", f.b2c, "type desc"},
			{"identity/b2xUserFlows", f.wf, "userFlowType"},
			{"identity/b2xUserFlows", f.wf, "displayName"},
		} {
			qtReject(t, s, tc.tok, qtWith("/"+v+"/"+tc.path, "$orderby", tc.orderby), http.StatusBadRequest, "Request_UnsupportedQuery", "")
		}
		for _, bad := range []string{"", ",", "displayName sideways", "displayName asc desc", "displayName,displayName", "displayName,DisplayName desc", "display name", "'displayName'"} {
			qtReject(t, s, f.b2c, qtWith("/"+v+"/identity/apiConnectors", "$orderby", bad), http.StatusBadRequest, "BadRequest", "")
		}
	}
}

// qtNames returns the display names of connectors.
func qtNames(items []map[string]any) []string {
	var out []string
	for _, it := range items {
		n, _ := it["displayName"].(string)
		out = append(out, n)
	}
	return out
}

// qtSortedIDs returns the ids of items sorted, to compare sets of items.
func qtSortedIDs(items []map[string]any) []string {
	ids := ufIDs(items)
	sort.Strings(ids)
	return ids
}

// --- $top, paging, $count ----------------------------------------------------

// qtPagingServer is a server whose default tenant has n connectors named
// "conn 000", "conn 001", ...; it returns their ids in creation order.
func qtPagingServer(t *testing.T, o serverOptions, n int) (*testServer, string, []string) {
	t.Helper()
	s := newServerWith(t, o)
	tok := s.adminToken(s.Tenant.ID)
	var ids []string
	for i := range n {
		ids = append(ids, qtCreateConnector(t, s, tok, fmt.Sprintf("conn %03d", i), "https://api.example.com/"+strconv.Itoa(i)))
	}
	return s, tok, ids
}

func qtPageSizes(pages []qtPage) []int {
	var out []int
	for _, p := range pages {
		out = append(out, len(p.Items))
	}
	return out
}

func TestQueryTopAndPaging(t *testing.T) {
	s, tok, ids := qtPagingServer(t, serverOptions{}, 250)
	names := func(items []map[string]any) []string { return qtNames(items) }
	for _, v := range qtVersions {
		base := "/" + v + "/identity/apiConnectors"
		t.Run(v, func(t *testing.T) {
			// Default page size 100; every item once, in creation order.
			items, pages := qtFollow(t, s, tok, ufGraphRoot, base)
			if d := cmp.Diff([]int{100, 100, 50}, qtPageSizes(pages)); d != "" {
				t.Errorf("default page sizes (-want +got):\n%s", d)
			}
			if d := cmp.Diff(ids, ufIDs(items)); d != "" {
				t.Errorf("default paging (-want +got):\n%s", d)
			}
			for i, p := range pages[:len(pages)-1] {
				if !strings.HasPrefix(p.NextLink, s.URL+base+"?$skiptoken=") {
					t.Errorf("page %d: nextLink %q, want %s?$skiptoken=...", i, p.NextLink, s.URL+base)
				}
				if p.Context != ufGraphRoot+"/"+v+"/$metadata#identity/apiConnectors" {
					t.Errorf("page %d: @odata.context %q", i, p.Context)
				}
			}

			// $top is the page size.
			items, pages = qtFollow(t, s, tok, ufGraphRoot, base+"?$top=40")
			if d := cmp.Diff([]int{40, 40, 40, 40, 40, 40, 10}, qtPageSizes(pages)); d != "" {
				t.Errorf("$top=40 page sizes (-want +got):\n%s", d)
			}
			if d := cmp.Diff(ids, ufIDs(items)); d != "" {
				t.Errorf("$top=40 paging (-want +got):\n%s", d)
			}
			for i, p := range pages[:len(pages)-1] {
				if !strings.HasPrefix(p.NextLink, s.URL+base+"?$top=40&$skiptoken=") {
					t.Errorf("page %d: nextLink %q keeps not $top=40", i, p.NextLink)
				}
			}
			p := qtGetPage(t, s, tok, base+"?$top=1")
			if len(p.Items) != 1 || p.Items[0]["id"] != ids[0] || p.NextLink == "" {
				t.Errorf("$top=1: %d items, nextLink %q", len(p.Items), p.NextLink)
			}
			p = qtGetPage(t, s, tok, base+"?$top=999")
			if d := cmp.Diff(ids, ufIDs(p.Items)); d != "" || p.NextLink != "" {
				t.Errorf("$top=999: nextLink %q, items (-want +got):\n%s", p.NextLink, d)
			}
			p = qtGetPage(t, s, tok, base+"?$top=250")
			if len(p.Items) != 250 || p.NextLink != "" {
				t.Errorf("$top=250: %d items, nextLink %q", len(p.Items), p.NextLink)
			}
			p = qtGetPage(t, s, tok, base+"?$top=249")
			if len(p.Items) != 249 || p.NextLink == "" {
				t.Errorf("$top=249: %d items, nextLink %q", len(p.Items), p.NextLink)
			}
			for _, bad := range []string{"0", "1000", "-1", "abc", "1.5", "", "%201", "1e2", "0x10", "99999999999999999999", "+5"} {
				e := qtReject(t, s, tok, base+"?$top="+bad, http.StatusBadRequest, "", "Must be between 1 and 999 inclusive.")
				if dec, _ := url.QueryUnescape(bad); e.Message != "" && !strings.HasPrefix(e.Message, "Invalid page size specified: '"+dec+"'.") {
					t.Errorf("$top=%s: message %q", bad, e.Message)
				}
			}

			// A filter and an order are kept across pages, with $count.
			filter := "startswith(displayName,'conn 1') or endswith(displayName, '7')"
			var want []string
			for i := 249; i >= 0; i-- {
				n := fmt.Sprintf("conn %03d", i)
				if strings.HasPrefix(n, "conn 1") || strings.HasSuffix(n, "7") {
					want = append(want, n)
				}
			}
			q := qtWith(base, "$filter", filter, "$orderby", "displayName desc", "$top", "30", "$count", "true")
			items, pages = qtFollow(t, s, tok, ufGraphRoot, q)
			if d := cmp.Diff(want, names(items)); d != "" {
				t.Errorf("filtered and ordered paging (-want +got):\n%s", d)
			}
			if len(pages) != (len(want)+29)/30 {
				t.Errorf("%d pages for %d items by 30", len(pages), len(want))
			}
			for i, p := range pages {
				if p.Count == nil || *p.Count != int64(len(want)) {
					t.Errorf("page %d: @odata.count %v, want %d", i, p.Count, len(want))
				}
				if p.NextLink == "" {
					continue
				}
				for _, keep := range []string{"$filter=" + qtEnc(filter), "$orderby=" + qtEnc("displayName desc"), "$top=30", "$count=true"} {
					if !strings.Contains(p.NextLink, keep) {
						t.Errorf("page %d: nextLink %q lost %s", i, p.NextLink, keep)
					}
				}
			}

			// $count=true on every page of the whole collection.
			_, pages = qtFollow(t, s, tok, ufGraphRoot, base+"?$count=true")
			for i, p := range pages {
				if p.Count == nil || *p.Count != 250 {
					t.Errorf("$count=true page %d: @odata.count %v, want 250", i, p.Count)
				}
			}
			for _, q := range []string{base, base + "?$count=false", base + "?$top=5&$count=false"} {
				if p := qtGetPage(t, s, tok, q); p.Count != nil {
					t.Errorf("GET %s: @odata.count %d", q, *p.Count)
				}
			}
			for _, bad := range []string{"maybe", "", "1", "yes", "true,false"} {
				qtReject(t, s, tok, qtWith(base, "$count", bad), http.StatusBadRequest, "", "")
			}
		})
	}
}

// Items created while a client pages are allowed to appear or not; nothing
// repeats and every item that existed throughout is visited once.
func TestQueryPagingWhileWriting(t *testing.T) {
	s, tok, ids := qtPagingServer(t, serverOptions{}, 60)
	for _, v := range qtVersions {
		for _, q := range []string{"?$top=25", "?$top=25&$orderby=displayName%20desc", "?$top=7&$orderby=id"} {
			t.Run(v+q, func(t *testing.T) {
				path := "/" + v + "/identity/apiConnectors" + q
				seen := map[string]int{}
				var created []string
				for n := 0; path != ""; n++ {
					p := qtGetPage(t, s, tok, path)
					for _, it := range p.Items {
						seen[it["id"].(string)]++
					}
					// Between pages: two new connectors, sorting first and last.
					for _, name := range []string{fmt.Sprintf("aaa %s %d", v, n), fmt.Sprintf("zzz %s %d", v, n)} {
						created = append(created, qtCreateConnector(t, s, tok, name, "https://api.example.com/new"))
					}
					path = ""
					if p.NextLink != "" {
						path = strings.TrimPrefix(p.NextLink, s.URL)
					}
				}
				for id, n := range seen {
					if n > 1 {
						t.Errorf("%s seen %d times", id, n)
					}
				}
				for _, id := range ids {
					if seen[id] != 1 {
						t.Errorf("connector %s, there throughout, seen %d times", id, seen[id])
					}
				}
				for id := range seen {
					if !slices.Contains(ids, id) && !slices.Contains(created, id) {
						t.Errorf("unknown connector %s", id)
					}
				}
			})
			// Put the collection back to the 60.
			for _, it := range qtAll(t, s, tok, "/v1.0/identity/apiConnectors") {
				if id := it["id"].(string); !slices.Contains(ids, id) {
					ufExpect(t, s, request{Method: "DELETE", Path: "/v1.0/identity/apiConnectors/" + id, Token: tok}, http.StatusNoContent)
				}
			}
		}
	}
}

// Every collection pages, counts and keeps its view on every page.
func TestQueryPagingEveryCollection(t *testing.T) {
	f := newQTFixture(t)
	s := f.s
	for _, c := range f.colls() {
		for _, v := range c.inVersions() {
			t.Run(c.name+" "+v, func(t *testing.T) {
				base := "/" + v + "/" + c.path
				full := qtGetPage(t, s, c.tok, base)
				for _, q := range []string{"?$top=1", "?$top=2&$count=true", "?$top=1&$select=id", "?$top=1&$filter=id%20ne%20'x'&$count=true"} {
					items, pages := qtFollow(t, s, c.tok, ufGraphRoot, base+q)
					if d := cmp.Diff(ufIDs(full.Items), ufIDs(items)); d != "" {
						t.Errorf("GET %s (-want +got):\n%s", base+q, d)
					}
					for i, p := range pages {
						if strings.Contains(q, "$count=true") && (p.Count == nil || *p.Count != int64(len(full.Items))) {
							t.Errorf("GET %s page %d: @odata.count %v, want %d", base+q, i, p.Count, len(full.Items))
						}
						if !strings.Contains(q, "$select") && p.Context != full.Context {
							t.Errorf("GET %s page %d: @odata.context %q, want %q", base+q, i, p.Context, full.Context)
						}
						if strings.Contains(q, "$select") && full.Context != "" && p.Context != full.Context+"(id)" {
							t.Errorf("GET %s page %d: @odata.context %q, want %q", base+q, i, p.Context, full.Context+"(id)")
						}
					}
					if strings.Contains(q, "$select") {
						for _, it := range items {
							for k := range it {
								if k != "id" && k != "@odata.type" {
									t.Errorf("GET %s: item shows %q", base+q, k)
								}
							}
						}
					}
				}
			})
		}
	}
}

// @odata.context follows the cloud the server stands in for; nextLink
// stays on the server's address.
func TestQueryPagingCloudHosts(t *testing.T) {
	for _, tc := range []struct {
		cloud graph.Cloud
		v     string
	}{
		{graph.CloudChina, "v1.0"}, {graph.CloudChina, "beta"}, {graph.CloudUSGov, "beta"}, {graph.CloudUSGovDoD, "beta"},
	} {
		t.Run(string(tc.cloud)+" "+tc.v, func(t *testing.T) {
			s, tok, ids := qtPagingServer(t, serverOptions{cloud: tc.cloud}, 5)
			root := tc.cloud.GraphRoot()
			for _, q := range []string{"?$top=2", "?$top=2&$filter=startswith(displayName,'conn')&$orderby=displayName%20desc"} {
				items, pages := qtFollow(t, s, tok, root, "/"+tc.v+"/identity/apiConnectors"+q)
				want := slices.Clone(ids)
				if strings.Contains(q, "desc") {
					slices.Reverse(want)
				}
				if d := cmp.Diff(want, ufIDs(items)); d != "" {
					t.Errorf("GET %s (-want +got):\n%s", q, d)
				}
				for _, p := range pages {
					if !strings.HasPrefix(p.Context, root+"/"+tc.v+"/$metadata#") {
						t.Errorf("@odata.context %q not on %s", p.Context, root)
					}
					// The link leads back to the server, whatever the cloud.
					if p.NextLink != "" && !strings.HasPrefix(p.NextLink, s.URL+"/"+tc.v+"/identity/apiConnectors?") {
						t.Errorf("nextLink %q not on %s", p.NextLink, s.URL)
					}
				}
			}
		})
	}
}

// --- /$count -----------------------------------------------------------------

// qtCount reads a /$count path: 200, text/plain, an integer.
func qtCount(t *testing.T, s *testServer, tok, path string) int {
	t.Helper()
	r := qtDo(t, s, request{Path: path, Token: tok})
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: status %d; body %s", path, r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET %s: Content-Type %q, want text/plain", path, ct)
	}
	n, err := strconv.Atoi(string(r.Body))
	if err != nil || n < 0 || strconv.Itoa(n) != string(r.Body) {
		t.Fatalf("GET %s: body %q is not an integer", path, r.Body)
	}
	return n
}

func TestQueryCountSegment(t *testing.T) {
	f := newQTFixture(t)
	s := f.s
	for _, c := range f.colls() {
		for _, v := range c.inVersions() {
			t.Run(c.name+" "+v, func(t *testing.T) {
				base := "/" + v + "/" + c.path
				all := qtAll(t, s, c.tok, base)
				if n := qtCount(t, s, c.tok, base+"/$count"); n != len(all) {
					t.Errorf("GET %s/$count = %d, want %d", base, n, len(all))
				}
				if p := qtGetPage(t, s, c.tok, base+"?$count=true"); p.Count == nil || *p.Count != int64(len(all)) {
					t.Errorf("GET %s?$count=true: @odata.count %v, want %d", base, p.Count, len(all))
				}
				// It honours $filter.
				first, _ := all[0]["id"].(string)
				for _, filter := range []string{"id eq " + qtQuote(first), "id ne " + qtQuote(first), "id eq 'none'", "not (id eq 'none')"} {
					want := len(qtAll(t, s, c.tok, qtWith(base, "$filter", filter)))
					if n := qtCount(t, s, c.tok, qtWith(base+"/$count", "$filter", filter)); n != want {
						t.Errorf("GET %s/$count?$filter=%s = %d, want %d", base, filter, n, want)
					}
					if p := qtGetPage(t, s, c.tok, qtWith(base, "$filter", filter, "$count", "true")); p.Count == nil || *p.Count != int64(want) {
						t.Errorf("GET %s?$filter=%s&$count=true: @odata.count %v, want %d", base, filter, p.Count, want)
					}
				}
				qtReject(t, s, c.tok, qtWith(base+"/$count", "$filter", "bogus eq 'x'"), http.StatusBadRequest, "Request_UnsupportedQuery", "")
				qtReject(t, s, c.tok, qtWith(base+"/$count", "$filter", "id eq"), http.StatusBadRequest, "BadRequest", "Invalid filter clause")
				qtReject(t, s, c.tok, base+"/$count?$foo=1", http.StatusBadRequest, "", "")
				qtReject(t, s, c.tok, base+"/$count?$top=1&$top=2", http.StatusBadRequest, "", "")
				if v == "beta" {
					// Prefix-less on beta.
					if n := qtCount(t, s, c.tok, qtWith(base+"/$count", "filter", "id eq 'none'")); n != 0 {
						t.Errorf("GET %s/$count?filter=id eq 'none' = %d, want 0", base, n)
					}
				} else if n := qtCount(t, s, c.tok, qtWith(base+"/$count", "filter", "id eq 'none'")); n != len(all) {
					t.Errorf("GET %s/$count?filter=... (a custom parameter on v1.0) = %d, want %d", base, n, len(all))
				}
			})
		}
	}
}

// /$count takes the list's permissions: with each token, the count answers
// as the list does, and a token without read permission gets 403.
func TestQueryCountSegmentPermissions(t *testing.T) {
	f := newQTFixture(t)
	s := f.s
	tokens := func(tenant string) map[string]string {
		return map[string]string{
			"no roles":                       s.appToken(tenant),
			"unrelated":                      s.appToken(tenant, "User.Read.All", "Directory.ReadWrite.All"),
			"APIConnectors.Read.All":         s.appToken(tenant, "APIConnectors.Read.All"),
			"APIConnectors.ReadWrite.All":    s.appToken(tenant, "APIConnectors.ReadWrite.All"),
			"IdentityProvider.Read.All":      s.appToken(tenant, "IdentityProvider.Read.All"),
			"IdentityUserFlow.Read.All":      s.appToken(tenant, "IdentityUserFlow.Read.All"),
			"IdentityUserFlow.ReadWrite.All": s.appToken(tenant, "IdentityUserFlow.ReadWrite.All"),
			"user without role":              s.userToken(tenant, []string{"IdentityProvider.Read.All", "IdentityUserFlow.Read.All"}, nil),
		}
	}
	tenantOf := map[string]string{f.b2c: s.Tenant.ID, f.wf: f.wfTenant.ID, f.ext: f.extTenant.ID}
	for _, c := range f.colls() {
		for _, v := range c.inVersions() {
			base := "/" + v + "/" + c.path
			toks := tokens(tenantOf[c.tok])
			denied := 0
			for name, tok := range toks {
				list := qtDo(t, s, request{Path: base, Token: tok})
				count := qtDo(t, s, request{Path: base + "/$count", Token: tok})
				if list.Status != count.Status {
					t.Errorf("%s %s with %s: list %d, /$count %d", c.name, v, name, list.Status, count.Status)
				}
				if count.Status == http.StatusForbidden {
					denied++
				}
				if name == "no roles" || name == "unrelated" || name == "user without role" {
					if count.Status != http.StatusForbidden {
						t.Errorf("%s %s/$count with %s: status %d, want 403", c.name, base, name, count.Status)
					}
				}
			}
			if denied == 0 {
				t.Errorf("%s: no token was denied", base)
			}
			// No token at all: 401 for both.
			qtReject(t, s, "", base+"/$count", http.StatusUnauthorized, "", "")
		}
	}
	// Read permissions that suffice.
	qtCount(t, s, s.appToken(s.Tenant.ID, "IdentityProvider.Read.All"), "/v1.0/identity/identityProviders/$count")
	qtCount(t, s, s.appToken(s.Tenant.ID, "IdentityProvider.Read.All"), "/beta/identityProviders/$count")
	qtCount(t, s, s.appToken(f.wfTenant.ID, "IdentityUserFlow.Read.All"), "/v1.0/identity/b2xUserFlows/$count")
	qtReject(t, s, s.appToken(s.Tenant.ID, "IdentityProvider.Read.All"), "/v1.0/identity/apiConnectors/$count", http.StatusForbidden, "", "")
}

// --- $skiptoken --------------------------------------------------------------

// qtFlip returns token with the character at i replaced by another one of
// the token's alphabet.
func qtFlip(token string, i int) string {
	c := byte('A')
	if token[i] == 'A' {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}

func TestQuerySkipToken(t *testing.T) {
	f := newQTFixture(t)
	s := f.s
	// A second B2C tenant with connectors of its own.
	other := s.newTenant(graph.TenantB2C, "")
	otherTok := s.adminToken(other.ID)
	for _, n := range []string{"o1", "o2", "o3", "o4"} {
		qtCreateConnector(t, s, otherTok, n, "https://api.example.com/"+n)
	}
	ufCreateSocial(t, s, otherTok, "Amazon")
	ufCreateSocial(t, s, otherTok, "Google")

	for _, v := range qtVersions {
		t.Run(v, func(t *testing.T) {
			base := "/" + v + "/identity/apiConnectors"
			// token returns the $skiptoken of the first page of base+query.
			token := func(tok, path string) string {
				t.Helper()
				p := qtGetPage(t, s, tok, path)
				if p.NextLink == "" {
					t.Fatalf("GET %s: no nextLink", path)
				}
				return qtSkipToken(t, p.NextLink)
			}
			with := func(path, tok string) string { return path + "&$skiptoken=" + qtEnc(tok) }

			tk := token(f.b2c, base+"?$top=2")
			second := qtGetPage(t, s, f.b2c, with(base+"?$top=2", tk))
			if d := cmp.Diff(f.ids("Beta", "O'Brien check"), ufIDs(second.Items)); d != "" {
				t.Errorf("second page (-want +got):\n%s", d)
			}
			// The token is opaque and sealed: any change is refused.
			for _, bad := range []string{qtFlip(tk, len(tk)/2), qtFlip(tk, len(tk)-1), qtFlip(tk, 0), tk[:len(tk)-1], tk + "A",
				tk[1:], "abc", "a.b", ".", strings.ToUpper(tk), tk + "." + tk} {
				qtReject(t, s, f.b2c, with(base+"?$top=2", bad), http.StatusBadRequest, "", "")
			}
			qtReject(t, s, f.b2c, base+"?$top=2&$skiptoken=", http.StatusBadRequest, "", "")
			// Another tenant, same path and query.
			qtReject(t, s, otherTok, with(base+"?$top=2", tk), http.StatusBadRequest, "", "")
			otk := token(otherTok, base+"?$top=2")
			qtReject(t, s, f.b2c, with(base+"?$top=2", otk), http.StatusBadRequest, "", "")

			// Another filter or order.
			ftk := token(f.b2c, qtWith(base, "$filter", "startswith(targetUrl, 'https://')", "$top", "2"))
			qtGetPage(t, s, f.b2c, with(qtWith(base, "$filter", "startswith(targetUrl, 'https://')", "$top", "2"), ftk))
			qtReject(t, s, f.b2c, with(qtWith(base, "$filter", "startswith(targetUrl, 'http')", "$top", "2"), ftk), http.StatusBadRequest, "", "")
			qtReject(t, s, f.b2c, with(base+"?$top=2", ftk), http.StatusBadRequest, "", "")
			qtReject(t, s, f.b2c, with(qtWith(base, "$filter", "startswith(targetUrl, 'https://')", "$orderby", "id", "$top", "2"), ftk), http.StatusBadRequest, "", "")
			qtReject(t, s, f.b2c, with(qtWith(base, "$filter", "id ne 'x'", "$top", "2"), tk), http.StatusBadRequest, "", "")
			otk = token(f.b2c, base+"?$orderby=displayName&$top=2")
			qtGetPage(t, s, f.b2c, with(base+"?$orderby=displayName&$top=2", otk))
			for _, ob := range []string{"displayName desc", "id", "displayName,id", "id,displayName"} {
				qtReject(t, s, f.b2c, with(qtWith(base, "$orderby", ob, "$top", "2"), otk), http.StatusBadRequest, "", "")
			}
			qtReject(t, s, f.b2c, with(base+"?$top=2", otk), http.StatusBadRequest, "", "")
			qtReject(t, s, f.b2c, with(qtWith(base, "$orderby", "displayName"), tk), http.StatusBadRequest, "", "")

			// Another collection: the deprecated view's token on the current
			// view, and the other way round, and on another collection.
			dtk := token(f.b2c, "/"+v+"/identityProviders?$top=1")
			qtGetPage(t, s, f.b2c, with("/"+v+"/identityProviders?$top=1", dtk))
			qtReject(t, s, f.b2c, with("/"+v+"/identity/identityProviders?$top=1", dtk), http.StatusBadRequest, "", "")
			ctk := token(f.b2c, "/"+v+"/identity/identityProviders?$top=1")
			qtReject(t, s, f.b2c, with("/"+v+"/identityProviders?$top=1", ctk), http.StatusBadRequest, "", "")
			qtReject(t, s, f.b2c, with(base+"?$top=1", ctk), http.StatusBadRequest, "", "")
			qtReject(t, s, f.wf, with("/"+v+"/identityProviders?$top=1", dtk), http.StatusBadRequest, "", "")

			// On an entity, $skiptoken is no option at all.
			qtReject(t, s, f.b2c, with(base+"/"+f.conn["Alpha"]+"?$select=id", tk), http.StatusBadRequest, "", "")
		})
	}
	// A v1.0 token is not a beta one.
	tk := qtSkipToken(t, qtGetPage(t, s, f.b2c, "/v1.0/identity/apiConnectors?$top=2").NextLink)
	qtReject(t, s, f.b2c, "/beta/identity/apiConnectors?$top=2&$skiptoken="+qtEnc(tk), http.StatusBadRequest, "", "")
}

// --- option names ------------------------------------------------------------

// On beta the "$" is optional; on v1.0 names without it are custom
// parameters, ignored.
func TestQueryBetaPrefixless(t *testing.T) {
	f := newQTFixture(t)
	s := f.s
	all := f.allBut()
	base := "/beta/identity/apiConnectors"
	// top
	items, pages := qtFollow(t, s, f.b2c, ufGraphRoot, base+"?top=2")
	if d := cmp.Diff([]int{2, 2, 1}, qtPageSizes(pages)); d != "" {
		t.Errorf("beta top=2 page sizes (-want +got):\n%s", d)
	}
	if d := cmp.Diff(all, ufIDs(items)); d != "" {
		t.Errorf("beta top=2 (-want +got):\n%s", d)
	}
	// skiptoken without "$", and TOP in capitals.
	tk := qtSkipToken(t, pages[0].NextLink)
	if got := ufIDs(qtGetPage(t, s, f.b2c, base+"?TOP=2&skiptoken="+qtEnc(tk)).Items); !slices.Equal(got, all[2:4]) {
		t.Errorf("beta top=2&skiptoken=...: %v, want %v", got, all[2:4])
	}
	qtReject(t, s, f.b2c, base+"?top=2&skiptoken=x", http.StatusBadRequest, "", "")
	qtReject(t, s, f.b2c, base+"?top=2&skiptoken="+qtEnc(tk)+"&$skiptoken="+qtEnc(tk), http.StatusBadRequest, "", "more than once")
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{qtWith("", "filter", "displayName eq 'Beta'"), f.ids("Beta")},
		{qtWith("", "Filter", "startswith(displayName, 'a')", "orderby", "displayName desc"), f.ids("alpha two", "Alpha")},
		{qtWith("", "filter", "startswith(displayName, 'a')", "top", "1"), f.ids("Alpha")},
		{qtWith("", "foo", "bar", "filter", "displayName eq 'Gamma'"), f.ids("Gamma")},
	} {
		if d := cmp.Diff(tc.want, ufIDs(qtGetPage(t, s, f.b2c, base+tc.query).Items)); d != "" {
			t.Errorf("beta %s (-want +got):\n%s", tc.query, d)
		}
	}
	p := qtGetPage(t, s, f.b2c, base+"?select=displayName&count=true")
	if p.Count == nil || *p.Count != int64(len(all)) {
		t.Errorf("beta count=true: @odata.count %v", p.Count)
	}
	for _, raw := range p.Raw {
		if d := cmp.Diff([]string{"id", "displayName"}, qtKeys(t, raw)); d != "" {
			t.Errorf("beta select=displayName (-want +got):\n%s", d)
		}
	}
	if p.Context != ufGraphRoot+"/beta/$metadata#identity/apiConnectors(displayName)" {
		t.Errorf("beta select=displayName: @odata.context %q", p.Context)
	}
	// Following prefix-less nextLinks with a filter.
	items, _ = qtFollow(t, s, f.b2c, ufGraphRoot, qtWith(base, "filter", "displayName ne 'Beta'", "top", "1"))
	if d := cmp.Diff(f.allBut("Beta"), ufIDs(items)); d != "" {
		t.Errorf("beta filter+top paging (-want +got):\n%s", d)
	}
	// The other collections.
	if got := ufIDs(qtGetPage(t, s, f.b2c, qtWith("/beta/identityProviders", "filter", "type eq 'Google'")).Items); !slices.Equal(got, []string{"Google-OAUTH"}) {
		t.Errorf("beta identityProviders?filter=...: %v", got)
	}
	if p := qtGetPage(t, s, f.b2c, "/beta/identity/identityProviders?top=1"); len(p.Items) != 1 || p.NextLink == "" {
		t.Errorf("beta identity/identityProviders?top=1: %d items, nextLink %q", len(p.Items), p.NextLink)
	}
	if got := ufIDs(qtGetPage(t, s, f.b2c, qtWith("/beta/identity/b2cUserFlows", "filter", "isLanguageCustomizationEnabled eq true")).Items); !slices.Equal(got, []string{"B2C_1_Profile", "B2C_1_Reset"}) {
		t.Errorf("beta b2cUserFlows?filter=...: %v", got)
	}
	if n := qtCount(t, s, f.wf, qtWith("/beta/identity/b2xUserFlows/$count", "filter", "id eq 'B2X_1_Vendor'")); n != 1 {
		t.Errorf("beta b2xUserFlows/$count?filter=...: %d", n)
	}
	// Errors apply to prefix-less names as to the others.
	qtReject(t, s, f.b2c, base+"?top=0", http.StatusBadRequest, "", "Invalid page size specified: '0'.")
	qtReject(t, s, f.b2c, base+"?$top=2&top=3", http.StatusBadRequest, "",
		"Query option '$top' was specified more than once, but it must be specified at most once.")
	qtReject(t, s, f.b2c, base+"?filter=id%20eq%20'x'&$FILTER=id%20eq%20'y'", http.StatusBadRequest, "",
		"Query option '$filter' was specified more than once, but it must be specified at most once.")
	qtReject(t, s, f.b2c, base+"?skip=1", http.StatusBadRequest, "", "$skip")
	qtReject(t, s, f.b2c, base+"?search=x", http.StatusBadRequest, "", "$search")
	qtReject(t, s, f.b2c, base+"?filter=bogus%20eq%20'x'", http.StatusBadRequest, "Request_UnsupportedQuery", "")
	qtReject(t, s, f.b2c, base+"/"+f.conn["Alpha"]+"?top=1", http.StatusBadRequest, "", "")

	// v1.0: the same names are custom parameters, ignored.
	v1 := "/v1.0/identity/apiConnectors"
	full := qtGetPage(t, s, f.b2c, v1)
	for _, q := range []string{"?top=2", "?top=0", "?filter=displayName%20eq%20'Beta'", "?filter=((", "?select=bogus", "?orderby=targetUrl",
		"?count=maybe", "?skip=1", "?search=x", "?skiptoken=abc", "?foo=bar", "?top=2&top=3", "?filter=x&filter=y"} {
		p := qtGetPage(t, s, f.b2c, v1+q)
		if d := cmp.Diff(full.Items, p.Items); d != "" || p.NextLink != "" || p.Count != nil || p.Context != full.Context {
			t.Errorf("v1.0 %s: not the full list (nextLink %q, count %v, context %q) (-want +got):\n%s", q, p.NextLink, p.Count, p.Context, d)
		}
	}
	// ... also beside the $ ones.
	if got := ufIDs(qtGetPage(t, s, f.b2c, v1+"?$top=2&top=3").Items); len(got) != 2 {
		t.Errorf("v1.0 $top=2&top=3: %d items, want 2", len(got))
	}
	if n := qtCount(t, s, f.b2c, v1+"/$count?filter=displayName%20eq%20'Beta'"); n != len(all) {
		t.Errorf("v1.0 /$count?filter=...: %d, want %d", n, len(all))
	}
	if e, _ := qtGetObject(t, s, f.b2c, v1+"/"+f.conn["Alpha"]+"?select=displayName&top=1&filter=x"); e["targetUrl"] == nil {
		t.Errorf("v1.0 entity with custom parameters: %v", e)
	}
}

// Duplicates, unknown and unsupported options, and options an entity does
// not take, answer 400 under both versions.
func TestQueryOptionErrors(t *testing.T) {
	f := newQTFixture(t)
	s := f.s
	for _, v := range qtVersions {
		t.Run(v, func(t *testing.T) {
			base := "/" + v + "/identity/apiConnectors"
			for _, tc := range []struct{ query, name string }{
				{"$top=1&$top=2", "$top"},
				{"$top=1&$top=1", "$top"},
				{"$TOP=1&$top=2", "$top"},
				{"$filter=id%20eq%20'x'&$Filter=id%20eq%20'x'", "$filter"},
				{"$select=id&$select=displayName", "$select"},
				{"$orderby=id&$orderby=id", "$orderby"},
				{"$count=true&$count=false", "$count"},
				{"$skiptoken=a&$skiptoken=b", "$skiptoken"},
				{"%24top=1&$top=1", "$top"},
			} {
				qtReject(t, s, f.b2c, base+"?"+tc.query, http.StatusBadRequest, "",
					"Query option '"+tc.name+"' was specified more than once, but it must be specified at most once.")
			}
			for _, name := range []string{"$foo", "$Foo", "$", "$top2", "$filter "} {
				qtReject(t, s, f.b2c, base+"?"+qtEnc(name)+"=1", http.StatusBadRequest, "", "")
			}
			qtReject(t, s, f.b2c, base+"?$foo=1", http.StatusBadRequest, "", "The query parameter '$foo' is not supported.")
			for _, name := range []string{"$skip", "$search", "$apply", "$compute", "$levels", "$deltatoken", "$SKIP"} {
				qtReject(t, s, f.b2c, base+"?"+name+"=1", http.StatusBadRequest, "",
					"Query option '"+strings.ToLower(name)+"' is not supported for this resource.")
			}
			qtReject(t, s, f.b2c, base+"?$skip=0&$top=5", http.StatusBadRequest, "", "$skip")
			qtReject(t, s, f.b2c, base+"?$filter=%zz", http.StatusBadRequest, "", "")
			qtReject(t, s, f.b2c, base+"?$format=xml", http.StatusBadRequest, "", "")
			qtGetPage(t, s, f.b2c, base+"?$format=json")
			// An empty query and custom parameters are fine.
			qtGetPage(t, s, f.b2c, base+"?")
			qtGetPage(t, s, f.b2c, base+"?&&")
			qtGetPage(t, s, f.b2c, base+"?api-version=1&x")

			// Entities take $select only (and $expand where it exists).
			for _, ep := range []struct{ path, tok string }{
				{base + "/" + f.conn["Alpha"], f.b2c},
				{"/" + v + "/identity/identityProviders/Amazon-OAUTH", f.b2c},
				{"/" + v + "/identityProviders/Amazon-OAUTH", f.b2c},
				{"/" + v + "/identity/b2xUserFlows/B2X_1_Partner", f.wf},
			} {
				qtGetObject(t, s, ep.tok, ep.path+"?$select=id")
				for _, q := range []string{"$filter=id%20eq%20'x'", "$top=1", "$orderby=id", "$count=true", "$count=false", "$skiptoken=abc",
					"$select=id&$top=1", "$top=0"} {
					qtReject(t, s, ep.tok, ep.path+"?"+q, http.StatusBadRequest, "", "")
				}
			}
		})
	}
	qtGetObject(t, s, f.b2c, "/beta/identity/b2cUserFlows/B2C_1_SignUp?$select=defaultLanguageTag")
	qtReject(t, s, f.b2c, "/beta/identity/b2cUserFlows/B2C_1_SignUp?$filter=id%20eq%20'x'", http.StatusBadRequest, "", "")
	qtReject(t, s, f.b2c, "/beta/identity/b2cUserFlows/B2C_1_SignUp?top=1", http.StatusBadRequest, "", "")
}

// Query options are for GET: every other method ignores them, whatever
// they say.
func TestQueryOptionsIgnoredOnWrites(t *testing.T) {
	f := newQTFixture(t)
	s := f.s
	junk := "?$select=bogus&$filter=((&$top=0&$top=5&$foo=1&$skip=2&$count=maybe&$orderby=targetUrl&$skiptoken=x&select=bogus&top=0"
	for _, v := range qtVersions {
		t.Run(v, func(t *testing.T) {
			before := len(qtAll(t, s, f.b2c, "/"+v+"/identity/apiConnectors"))
			r := qtDo(t, s, request{Method: "POST", Path: "/" + v + "/identity/apiConnectors" + junk, Token: f.b2c, Body: map[string]any{
				"displayName": "Written " + v, "targetUrl": "https://api.example.com/w",
				"authenticationConfiguration": map[string]any{"@odata.type": "#microsoft.graph.basicAuthentication", "username": "u", "password": qtConnectorPassword},
			}})
			if r.Status != http.StatusCreated {
				t.Fatalf("POST with query options: %d %s", r.Status, r.Body)
			}
			m := ufObject(t, r)
			id, _ := m["id"].(string)
			for _, k := range []string{"displayName", "targetUrl", "authenticationConfiguration"} {
				if m[k] == nil {
					t.Errorf("POST with $select: the body lacks %q: %s", k, r.Body)
				}
			}
			if n := len(qtAll(t, s, f.b2c, "/"+v+"/identity/apiConnectors")); n != before+1 {
				t.Errorf("%d connectors after the POST, want %d", n, before+1)
			}
			r = qtDo(t, s, request{Method: "PATCH", Path: "/" + v + "/identity/apiConnectors/" + id + junk, Token: f.b2c,
				Body: map[string]any{"displayName": "Renamed " + v}})
			if r.Status != http.StatusOK && r.Status != http.StatusNoContent {
				t.Fatalf("PATCH with query options: %d %s", r.Status, r.Body)
			}
			if e, _ := qtGetObject(t, s, f.b2c, "/"+v+"/identity/apiConnectors/"+id); e["displayName"] != "Renamed "+v {
				t.Errorf("after PATCH: %v", e["displayName"])
			}
			r = qtDo(t, s, request{Method: "PATCH", Path: "/" + v + "/identityProviders/Amazon-OAUTH" + junk, Token: f.b2c,
				Body: map[string]any{"name": "Amazon " + v}})
			if r.Status != http.StatusNoContent && r.Status != http.StatusOK {
				t.Errorf("PATCH deprecated provider with query options: %d %s", r.Status, r.Body)
			}
			r = qtDo(t, s, request{Method: "POST", Path: "/" + v + "/identity/b2xUserFlows" + junk, Token: f.wf,
				Body: ufFlowBody("Q"+strings.ReplaceAll(v, ".", ""), "signUpOrSignIn", 1)})
			if r.Status != http.StatusCreated {
				t.Errorf("POST flow with query options: %d %s", r.Status, r.Body)
			}
			r = qtDo(t, s, request{Method: "POST", Path: "/" + v + "/identity/b2xUserFlows/B2X_1_Vendor/identityProviders/$ref" + junk, Token: f.wf,
				Body: map[string]any{"@odata.id": ufGraphRoot + "/" + v + "/identityProviders/Google-OAUTH"}})
			if r.Status != http.StatusNoContent {
				t.Errorf("POST $ref with query options: %d %s", r.Status, r.Body)
			}
			r = qtDo(t, s, request{Method: "DELETE", Path: "/" + v + "/identity/b2xUserFlows/B2X_1_Vendor/identityProviders/Google-OAUTH/$ref" + junk, Token: f.wf})
			if r.Status != http.StatusNoContent {
				t.Errorf("DELETE $ref with query options: %d %s", r.Status, r.Body)
			}
			r = qtDo(t, s, request{Method: "DELETE", Path: "/" + v + "/identity/apiConnectors/" + id + junk, Token: f.b2c})
			if r.Status != http.StatusNoContent {
				t.Errorf("DELETE with query options: %d %s", r.Status, r.Body)
			}
		})
	}
}
