package httpapi_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/idgraph/internal/certinfo/certtest"
	"github.com/idgraph/idgraph/internal/graph"
)

// TestConformance replays every documented example in
// testdata/conformance/{vectors,classic} against a real server, under both
// compatibility profiles (decision D1), as subtests named profile/file. The
// rules are those of testdata/conformance/README.md:
//
//   - placeholders and real-looking ids in paths are fixtures: the object is
//     created through the API first and its id substituted;
//   - the fake pkcs12Value of the docs is replaced by a real PKCS#12 file with
//     the vector's password, and the expected certificateList by that
//     certificate's real facts;
//   - truncated bodies are compared as "every expected key present with an
//     equal value", complete ones exactly; ids are only checked to be
//     non-empty (docs' GUIDs and placeholders), secrets must be the fixed
//     masks of spec §3 whatever the docs print;
//   - under the classic profile, PATCH /identity/apiConnectors/{id} answers
//     200 with the updated connector instead of 204; under the current
//     profile the classic/ vectors (abstract authentication type, targetUrl
//     "String") are rejected with 400 and change nothing.
//
// Each vector runs in a new tenant of the kind its content implies (the
// vectors README), with its fixtures created through the API: providers of
// the current API through beta (which has every subtype), user flows with
// the connectors their examples show. Two documentation defects are
// compared as Graph means them: type names in @odata.type with or without
// "#" and in any case, and the v1.0 apiConnectorConfiguration example's
// per-step @odata.context pointing at /beta/.
//
// Vectors for endpoints this server does not serve yet would be listed by
// file name in confPending (none are); the test fails if the list and the
// served paths disagree, so the list cannot hide a failing vector.
func TestConformance(t *testing.T) {
	vectors := confLoadVectors(t)
	confCheckPendingList(t, vectors)

	for _, profile := range []graph.Profile{graph.ProfileClassic, graph.ProfileCurrent} {
		t.Run(string(profile), func(t *testing.T) {
			srv := newServerWith(t, serverOptions{profile: profile})
			for _, v := range vectors {
				t.Run(v.file, func(t *testing.T) {
					// The same server, failing into this subtest.
					s := *srv
					s.t = t
					if confPending[v.file] {
						confProbePending(t, &s, v)
						return
					}
					confReplay(t, &s, profile, v)
				})
			}
		})
	}
}

// confPending lists, by file name, the vectors of endpoints this server does
// not serve yet. Each is still sent to the server, which must answer 501
// NotImplemented: once an endpoint is served its vectors must leave this list
// and be replayed. Every documented endpoint is served now.
var confPending = confSet()

func confSet(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		if m[n] {
			panic("confPending lists " + n + " twice")
		}
		m[n] = true
	}
	return m
}

// confVector is one file of testdata/conformance (schema in its README).
type confVector struct {
	Name    string `json:"name"`
	Source  string `json:"source"`
	Version string `json:"version"`
	Request struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"request"`
	Response struct {
		Status    int             `json:"status"`
		Body      json.RawMessage `json:"body"`
		Truncated bool            `json:"truncated"`
	} `json:"response"`

	dir  string // "vectors" or "classic"
	file string // base name; unique across both directories
}

func confLoadVectors(t *testing.T) []confVector {
	t.Helper()
	var out []confVector
	seen := map[string]string{}
	for _, dir := range []string{"vectors", "classic"} {
		files, err := filepath.Glob(filepath.Join("testdata", "conformance", dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no vectors in testdata/conformance/%s", dir)
		}
		sort.Strings(files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var v confVector
			if err := json.Unmarshal(data, &v); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			v.dir, v.file = dir, filepath.Base(f)
			if prev, dup := seen[v.file]; dup {
				t.Fatalf("vector file name %s is in both %s and %s: subtests are named by file", v.file, prev, dir)
			}
			seen[v.file] = dir
			if v.Request.Method == "" || !strings.HasPrefix(v.Request.Path, "/"+v.Version+"/") || v.Response.Status == 0 {
				t.Fatalf("%s: malformed vector (method %q, version %q, path %q, status %d)",
					f, v.Request.Method, v.Version, v.Request.Path, v.Response.Status)
			}
			out = append(out, v)
		}
	}
	return out
}

// confCheckPendingList fails when a pending vector targets a served path,
// when a vector is neither served nor pending, or when the list names a file
// that does not exist.
func confCheckPendingList(t *testing.T, vectors []confVector) {
	t.Helper()
	files := map[string]bool{}
	for _, v := range vectors {
		files[v.file] = true
		served := confParseTarget(v.Request.Method, v.Request.Path).served()
		switch {
		case served && confPending[v.file]:
			t.Errorf("%s/%s: %s %s is served by this server but listed as pending: remove it from confPending",
				v.dir, v.file, v.Request.Method, v.Request.Path)
		case !served && !confPending[v.file]:
			t.Errorf("%s/%s: %s %s is neither served nor listed as pending",
				v.dir, v.file, v.Request.Method, v.Request.Path)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(confPending)) {
		if !files[n] {
			t.Errorf("confPending lists %s, which is not a vector file", n)
		}
	}
}

// The masks read paths show instead of secrets (spec §3), written out here so
// that the server's own constants cannot change what the test expects.
const (
	confMaskSix  = "******" // basicAuthentication.password (and identityProviderBase secrets)
	confMaskFive = "*****"  // the deprecated identityProvider.clientSecret
)

// The APIs of the slice (routes.go).
const (
	confConnectors = "apiConnectors"     // /identity/apiConnectors...
	confDeprecated = "identityProviders" // /identityProviders... (deprecated, D5)
	confProviders  = "providers"         // /identity/identityProviders...
	confFlows      = "userFlows"         // /identity/b2xUserFlows..., /identity/b2cUserFlows...
)

// confTarget is what a vector's path addresses.
type confTarget struct {
	method  string
	version string
	segs    []string // raw path segments after the version, query removed
	api     string   // one of the conf* APIs, or "" when not served
	idIndex int      // index in segs of the key segment; -1 when none
	action  string   // "uploadClientCertificate" or "availableProviderTypes"; "" when none
	flows   string   // "b2xUserFlows" or "b2cUserFlows" for confFlows
	step    string   // the apiConnectorConfiguration step of a $ref PUT
}

// confParseTarget decides by path prefix, case-insensitively, whether the
// server serves a request and what it addresses.
func confParseTarget(method, path string) confTarget {
	p, _, _ := strings.Cut(path, "?")
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	tg := confTarget{method: method, version: parts[0], segs: parts[1:], idIndex: -1}
	if !strings.EqualFold(tg.version, "v1.0") && !strings.EqualFold(tg.version, "beta") {
		return tg
	}
	rest := strings.ToLower(strings.Join(tg.segs, "/"))
	hasPrefix := func(prefix string) bool { return rest == prefix || strings.HasPrefix(rest, prefix+"/") }
	switch {
	case hasPrefix("identity/apiconnectors"):
		tg.api = confConnectors
		if len(tg.segs) > 2 {
			tg.idIndex = 2
		}
		if len(tg.segs) > 3 {
			tg.action = tg.segs[3]
		}
	case hasPrefix("identity/identityproviders"):
		tg.api = confProviders
		if len(tg.segs) > 2 {
			if strings.EqualFold(tg.segs[2], "availableProviderTypes") {
				tg.action = tg.segs[2]
			} else {
				tg.idIndex = 2
			}
		}
	case hasPrefix("identity/b2xuserflows"), hasPrefix("identity/b2cuserflows"):
		tg.api, tg.flows = confFlows, tg.segs[1]
		if len(tg.segs) > 2 {
			tg.idIndex = 2
		}
		if len(tg.segs) > 4 {
			tg.step = tg.segs[4]
		}
	case hasPrefix("identityproviders"):
		tg.api = confDeprecated
		if len(tg.segs) > 1 {
			if strings.EqualFold(tg.segs[1], "availableProviderTypes") {
				tg.action = tg.segs[1]
			} else {
				tg.idIndex = 1
			}
		}
	}
	return tg
}

func (tg confTarget) served() bool {
	switch tg.method {
	case "GET", "POST", "PATCH", "DELETE", "PUT":
		return tg.api != ""
	}
	return false
}

// entityOp reports a GET, PATCH or DELETE of one object (not a function or action).
func (tg confTarget) entityOp() bool { return tg.idIndex >= 0 && tg.action == "" }

// path returns the request path with the key segment replaced by id, query kept.
func (tg confTarget) path(orig, id string) string {
	if tg.idIndex < 0 {
		return orig
	}
	p, q, hasQ := strings.Cut(orig, "?")
	parts := strings.Split(p, "/")
	parts[tg.idIndex+2] = id // "", version, segs...
	p = strings.Join(parts, "/")
	if hasQ {
		p += "?" + q
	}
	return p
}

// confTenantKind follows the vectors README: Amazon, GitHub, Apple and
// OpenIdConnect providers live in B2C tenants; EmailOTP/MicrosoftAccount
// built-ins in workforce tenants; oidcIdentityProvider and EmailPassword in
// external tenants; b2xUserFlows to workforce tenants. Connectors do not
// depend on the kind (b2c).
func confTenantKind(v confVector) graph.TenantKind {
	text := strings.ToLower(string(v.Request.Body) + " " + string(v.Response.Body) + " " + v.Request.Path)
	containsAny := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(text, strings.ToLower(w)) {
				return true
			}
		}
		return false
	}
	switch {
	case strings.Contains(strings.ToLower(v.Request.Path), "/b2xuserflows"):
		// Self-service sign-up flows belong to workforce tenants.
		return graph.TenantWorkforce
	case containsAny("Amazon", "GitHub", "Apple", "OpenIdConnect"):
		return graph.TenantB2C
	case containsAny("oidcIdentityProvider", "EmailPassword"):
		// Before the workforce markers: external tenants also have EmailOTP.
		return graph.TenantExternal
	case containsAny("EmailOTP", "MicrosoftAccount"):
		return graph.TenantWorkforce
	}
	return graph.TenantB2C
}

// confProbePending sends a pending vector's request: the server must not
// serve it yet (501 NotImplemented); otherwise the pending list is stale.
func confProbePending(t *testing.T, s *testServer, v confVector) {
	tenant := s.newTenant(confTenantKind(v), "")
	r := s.do(confRequest(v, v.Request.Path, confRawBody(v.Request.Body), s.adminToken(tenant.ID)))
	if r.Status != http.StatusNotImplemented {
		t.Fatalf("pending vector %s: %s %s answered %d, not 501: the endpoint is served now, "+
			"so remove the vector from confPending and replay it; body %s",
			v.file, v.Request.Method, v.Request.Path, r.Status, r.Body)
	}
	checkError(t, r, http.StatusNotImplemented, "NotImplemented")
	t.Skipf("pending: %s %s belongs to the rest of the slice (not served yet)", v.Request.Method, v.Request.Path)
}

// confRawBody returns a vector body to send as is, or nil for none.
func confRawBody(b json.RawMessage) any {
	if confIsNull(b) {
		return nil
	}
	return []byte(b)
}

func confIsNull(b json.RawMessage) bool {
	s := strings.TrimSpace(string(b))
	return s == "" || s == "null"
}

// confRequest builds the request of a vector: its method, its headers as the
// example prints them, and a bearer token.
func confRequest(v confVector, path string, body any, token string) request {
	req := request{Method: v.Request.Method, Path: path, Token: token, Body: body, Header: map[string]string{}}
	hasCType := false
	for k, val := range v.Request.Headers {
		req.Header[k] = val
		if strings.EqualFold(k, "Content-Type") {
			hasCType = true
		}
	}
	// Send only the headers the example prints.
	req.NoCType = !hasCType
	return req
}

// confCert is a real certificate standing in for a docs' fake pkcs12Value.
type confCert struct{ pfx certtest.PFX }

func confNewCert(t *testing.T, password string) confCert {
	t.Helper()
	pfx, err := certtest.Valid("conformance", password)
	if err != nil {
		t.Fatal(err)
	}
	return confCert{pfx}
}

// confCertList is the certificateList a connector holding certs (in upload
// order) shows: the most recently uploaded certificate that has started and
// not expired is the active one (spec §1.4).
func confCertList(certs []confCert) []any {
	now := time.Now().Unix()
	active := -1
	for i := len(certs) - 1; i >= 0; i-- {
		if c := certs[i].pfx; c.NotBefore <= now && now < c.NotAfter {
			active = i
			break
		}
	}
	out := make([]any, len(certs))
	for i, c := range certs {
		out[i] = map[string]any{
			"thumbprint": c.pfx.Thumbprint,
			"notBefore":  float64(c.pfx.NotBefore),
			"notAfter":   float64(c.pfx.NotAfter),
			"isActive":   i == active,
		}
	}
	return out
}

// confSubstituteCerts replaces every pkcs12Value in a request body with a
// real PKCS#12 file protected by the password next to it, and returns the
// certificates in order.
func confSubstituteCerts(t *testing.T, body any) []confCert {
	t.Helper()
	var certs []confCert
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			if _, ok := x["pkcs12Value"]; ok {
				password, ok := x["password"].(string)
				if !ok {
					t.Fatalf("pkcs12Value without a password string in %v", x)
				}
				c := confNewCert(t, password)
				x["pkcs12Value"] = c.pfx.Base64
				certs = append(certs, c)
			}
			for _, k := range slices.Sorted(maps.Keys(x)) {
				walk(x[k])
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(body)
	return certs
}

// confReplaceCertLists replaces every certificateList in an expected body with
// want, after checking the example lists as many certificates.
func confReplaceCertLists(t *testing.T, body any, want []any) {
	t.Helper()
	switch x := body.(type) {
	case map[string]any:
		for k, e := range x {
			if k == "certificateList" {
				list, ok := e.([]any)
				if !ok || len(list) != len(want) {
					t.Fatalf("test fixture mismatch: the example's certificateList %v has %d entries, the fixture holds %d certificates",
						e, len(list), len(want))
				}
				x[k] = want
				continue
			}
			confReplaceCertLists(t, e, want)
		}
	case []any:
		for _, e := range x {
			confReplaceCertLists(t, e, want)
		}
	}
}

func confDecode(t *testing.T, b []byte) any {
	t.Helper()
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return x
}

// confConnector is what the test knows of a fixture connector: the body it
// must show (secrets masked) and the certificates it holds.
type confConnector struct {
	id, name, target string
	auth             map[string]any
	certs            []confCert
}

func (c confConnector) entity() map[string]any {
	return map[string]any{
		"id": c.id, "displayName": c.name, "targetUrl": c.target,
		"authenticationConfiguration": confClone(c.auth),
	}
}

// confProvider is a fixture provider of the deprecated API.
type confProvider struct{ id, name, typ, clientID string }

func (p confProvider) entity() map[string]any {
	return map[string]any{"id": p.id, "name": p.name, "type": p.typ, "clientId": p.clientID, "clientSecret": confMaskFive}
}

// confFixture is what a vector needs to exist before its request.
type confFixture struct {
	path         string // the request path with fixture ids substituted
	connector    *confConnector
	provider     *confProvider
	providerID   string // a fixture of /identity/identityProviders
	refConnector string // the connector a user-flow $ref example attaches ({id})
}

func confStr(m map[string]any, key, def string) string {
	if m != nil {
		if s, ok := m[key].(string); ok {
			return s
		}
	}
	return def
}

func confMap(x any) map[string]any {
	m, _ := x.(map[string]any)
	return m
}

// confSetup creates the objects a served vector addresses.
func confSetup(t *testing.T, s *testServer, tok string, v confVector, tg confTarget, expected any) confFixture {
	t.Helper()
	fx := confFixture{path: v.Request.Path}
	exp := confMap(expected)
	switch tg.api {
	case confConnectors:
		if tg.idIndex < 0 {
			return fx // list or create: nothing to create first
		}
		// GET and upload examples show the connector they address; PATCH and
		// DELETE start from values of the test's own, so that a change shows.
		name, target, username := "Conformance fixture", "https://fixture.example.com/api", "fixture-user"
		if tg.method == "GET" || tg.action != "" {
			name, target = confStr(exp, "displayName", name), confStr(exp, "targetUrl", target)
			username = confStr(confMap(exp["authenticationConfiguration"]), "username", username)
		}
		// An upload example lists the certificates held before plus the uploaded one.
		held := 0
		if strings.EqualFold(tg.action, "uploadClientCertificate") {
			if list, ok := confMap(exp["authenticationConfiguration"])["certificateList"].([]any); ok && len(list) > 0 {
				held = len(list) - 1
			}
		}
		c := confCreateConnector(t, s, tok, name, target, username, held)
		fx.connector = &c
		fx.path = tg.path(v.Request.Path, c.id)
	case confDeprecated:
		switch {
		case tg.idIndex >= 0:
			pathID := tg.segs[tg.idIndex]
			typ := "Amazon"
			if head, ok := strings.CutSuffix(strings.ToUpper(pathID), "-OAUTH"); ok && head != "" {
				typ = pathID[:len(head)]
			}
			p := confCreateProvider(t, s, tok, confStr(exp, "name", "Login with "+typ), typ,
				confStr(exp, "clientId", "56433757-cadd-4135-8431-2c9e3fd68ae8"))
			fx.provider = &p
			// A real-looking id such as Amazon-OAuth is kept as written (ids
			// match case-insensitively, D4); placeholders take the created id.
			if !strings.EqualFold(pathID, p.id) {
				fx.path = tg.path(v.Request.Path, p.id)
			}
		case tg.method == "GET" && tg.action == "":
			// A list: create what the example lists, through the same API
			// (beta's openIdConnectProvider items through beta).
			items, _ := exp["value"].([]any)
			for _, item := range items {
				body := confFixtureBody(confMap(item))
				r := s.do(request{Method: "POST", Path: "/" + tg.version + "/identityProviders", Token: tok, Body: body})
				if r.Status != http.StatusCreated {
					t.Fatalf("fixture: create listed provider %v: %d %s", body, r.Status, r.Body)
				}
			}
		}
	case confProviders:
		switch {
		case tg.idIndex >= 0:
			pathID := tg.segs[tg.idIndex]
			if confBuiltInIDs[strings.ToLower(pathID)] {
				return fx // present in every tenant of its kind
			}
			item := confProviderTemplate(pathID, v)
			if tg.method == "GET" {
				// The example shows the provider it reads: create exactly that.
				for k, val := range exp {
					item[k] = val
				}
			}
			id := confCreateNewProvider(t, s, tok, item)
			fx.providerID = id
			if !strings.EqualFold(pathID, id) {
				fx.path = tg.path(v.Request.Path, id)
			}
		case tg.method == "GET" && tg.action == "":
			items, _ := exp["value"].([]any)
			for _, item := range items {
				it := confMap(item)
				if t, _ := it["@odata.type"].(string); strings.Contains(strings.ToLower(t), "builtinidentityprovider") {
					continue // present from the start
				}
				confCreateNewProvider(t, s, tok, it)
			}
		}
	case confFlows:
		fx.refConnector = confSetupFlow(t, s, tok, v, tg, exp)
	}
	return fx
}

// confBuiltInIDs are the built-in providers tenants have from the start.
var confBuiltInIDs = map[string]bool{"msasignup-oauth": true, "aadsignup-oauth": true, "emailotpsignup-oauth": true, "emailpassword-oauth": true}

// confFixtureBody turns a documented object into a body that creates it:
// without id and annotations other than @odata.type, with real secrets where
// the docs print masks.
func confFixtureBody(item map[string]any) map[string]any {
	body := confClone(item)
	for k := range body {
		if k == "id" || (strings.HasPrefix(k, "@") && k != "@odata.type") {
			delete(body, k)
		}
	}
	var walk func(m map[string]any)
	walk = func(m map[string]any) {
		for k, val := range m {
			switch k {
			case "clientSecret", "certificateData", "password":
				m[k] = "fixture-secret-" + k
			}
			if sub, ok := val.(map[string]any); ok {
				walk(sub)
			}
		}
	}
	walk(body)
	return body
}

// confCreateNewProvider creates a provider through beta's
// /identity/identityProviders, which accepts every subtype a tenant kind has.
func confCreateNewProvider(t *testing.T, s *testServer, tok string, item map[string]any) string {
	t.Helper()
	body := confFixtureBody(item)
	r := s.do(request{Method: "POST", Path: "/beta/identity/identityProviders", Token: tok, Body: body})
	if r.Status != http.StatusCreated {
		t.Fatalf("fixture: create provider %v: %d %s", body, r.Status, r.Body)
	}
	id, _ := r.JSON(t)["id"].(string)
	if id == "" {
		t.Fatalf("fixture: created provider has no id: %s", r.Body)
	}
	return id
}

// confProviderTemplate is a provider of the subtype a vector addresses: the
// id tells Apple and social providers; otherwise the @odata.type of the
// example's request or response does.
func confProviderTemplate(pathID string, v confVector) map[string]any {
	types := strings.ToLower(string(v.Request.Body) + string(v.Response.Body))
	switch {
	case strings.EqualFold(pathID, "Apple-Managed-OIDC"):
		return map[string]any{"@odata.type": "#microsoft.graph.appleManagedIdentityProvider", "displayName": "Sign in with Apple",
			"developerId": "FIXTUREDEV", "serviceId": "com.example.fixture", "keyId": "FIXTUREKEY", "certificateData": "fixture"}
	case strings.Contains(types, "microsoft.graph.oidcidentityprovider"):
		return map[string]any{"@odata.type": "#microsoft.graph.oidcIdentityProvider", "displayName": "Fixture OIDC",
			"clientId": "00001111-aaaa-2222-bbbb-3333cccc4444", "issuer": "https://fixture.example.com/tenant/v2.0/",
			"wellKnownEndpoint": "https://fixture.example.com/tenant/v2.0/.well-known/openid-configuration",
			"responseType":      "code", "scope": "openid profile",
			"clientAuthentication": map[string]any{"@odata.type": "#microsoft.graph.oidcClientSecretAuthentication", "clientSecret": "fixture"},
			"inboundClaimMapping":  map[string]any{"sub": "sub", "name": "name"}}
	case strings.Contains(types, "microsoft.graph.openidconnectidentityprovider"):
		return map[string]any{"@odata.type": "#microsoft.graph.openIdConnectIdentityProvider", "displayName": "Contoso",
			"clientId": "00001111-aaaa-2222-bbbb-3333cccc4444", "clientSecret": "fixture",
			"claimsMapping": map[string]any{"userId": "sub", "displayName": "name"}, "domainHint": "contoso",
			"metadataUrl": "https://fixture.example.com/.well-known/openid-configuration", "responseMode": "form_post",
			"responseType": "code", "scope": "openid"}
	}
	typ := "Amazon"
	if head, ok := strings.CutSuffix(strings.ToUpper(pathID), "-OAUTH"); ok && head != "" {
		typ = pathID[:len(head)]
	}
	return map[string]any{"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "Login with " + typ,
		"identityProviderType": typ, "clientId": "fixture-client", "clientSecret": "fixture"}
}

// confSetupFlow creates the user flow a vector addresses, with the API
// connectors its example shows (GET) or a connector to attach or detach
// (PUT $ref), and returns the id of the connector a PUT example references.
func confSetupFlow(t *testing.T, s *testServer, tok string, v confVector, tg confTarget, exp map[string]any) string {
	t.Helper()
	flowID := tg.segs[tg.idIndex]
	name := flowID
	if i := strings.Index(strings.ToUpper(name), "_1_"); i >= 0 {
		name = name[i+3:]
	}
	base := "/" + tg.version + "/identity/" + tg.flows
	r := s.do(request{Method: "POST", Path: base, Token: tok,
		Body: map[string]any{"id": name, "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1}})
	if r.Status != http.StatusCreated {
		t.Fatalf("fixture: create user flow: %d %s", r.Status, r.Body)
	}
	if got, _ := r.JSON(t)["id"].(string); got != flowID {
		t.Fatalf("fixture: created flow id %q, want %q", got, flowID)
	}
	attach := func(step, connectorID string) {
		r := s.do(request{Method: "PUT", Path: base + "/" + flowID + "/apiConnectorConfiguration/" + step + "/$ref", Token: tok,
			Body: map[string]any{"@odata.id": "https://graph.microsoft.com/" + tg.version + "/identity/apiConnectors/" + connectorID}})
		if r.Status != http.StatusNoContent {
			t.Fatalf("fixture: attach %s: %d %s", step, r.Status, r.Body)
		}
	}
	var ref string
	switch tg.method {
	case "GET":
		for _, step := range []string{"postFederationSignup", "postAttributeCollection", "preTokenIssuance"} {
			c := confMap(exp[step])
			if c == nil {
				continue
			}
			conn := confCreateConnector(t, s, tok, confStr(c, "displayName", "fixture"), confStr(c, "targetUrl", "https://fixture.example.com"),
				confStr(confMap(c["authenticationConfiguration"]), "username", "fixture-user"), 0)
			attach(step, conn.id)
		}
	case "PUT":
		conn := confCreateConnector(t, s, tok, "Conformance fixture", "https://fixture.example.com/api", "fixture-user", 0)
		ref = conn.id
		if !strings.Contains(string(v.Request.Body), "@odata.id") {
			attach(tg.step, conn.id) // the example detaches: attach something first
		}
	}
	return ref
}

// confCreateConnector creates a connector through the API: basic
// authentication, or, when it must hold certificates, a PKCS#12 certificate
// and uploads for the others.
func confCreateConnector(t *testing.T, s *testServer, tok, name, target, username string, certs int) confConnector {
	t.Helper()
	c := confConnector{name: name, target: target}
	auth := map[string]any{"@odata.type": "#microsoft.graph.basicAuthentication", "username": username, "password": "fixture-password"}
	c.auth = map[string]any{"@odata.type": "#microsoft.graph.basicAuthentication", "username": username, "password": confMaskSix}
	if certs > 0 {
		first := confNewCert(t, "fixture-pfx-password")
		auth = map[string]any{"@odata.type": "#microsoft.graph.pkcs12Certificate", "pkcs12Value": first.pfx.Base64, "password": first.pfx.Password}
		c.certs = append(c.certs, first)
	}
	r := s.do(request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: tok,
		Body: map[string]any{"displayName": name, "targetUrl": target, "authenticationConfiguration": auth}})
	if r.Status != http.StatusCreated {
		t.Fatalf("fixture: create connector: %d %s", r.Status, r.Body)
	}
	id, _ := r.JSON(t)["id"].(string)
	if id == "" {
		t.Fatalf("fixture: created connector has no id: %s", r.Body)
	}
	c.id = id
	for len(c.certs) < certs {
		next := confNewCert(t, "fixture-pfx-password")
		r := s.do(request{Method: "POST", Path: "/v1.0/identity/apiConnectors/" + id + "/uploadClientCertificate", Token: tok,
			Body: map[string]any{"pkcs12Value": next.pfx.Base64, "password": next.pfx.Password}})
		if r.Status != http.StatusOK {
			t.Fatalf("fixture: upload certificate: %d %s", r.Status, r.Body)
		}
		c.certs = append(c.certs, next)
	}
	if certs > 0 {
		c.auth = map[string]any{"@odata.type": "#microsoft.graph.clientCertificateAuthentication", "certificateList": confCertList(c.certs)}
	}
	return c
}

// confCreateProvider creates a provider through the deprecated API.
func confCreateProvider(t *testing.T, s *testServer, tok, name, typ, clientID string) confProvider {
	t.Helper()
	r := s.do(request{Method: "POST", Path: "/v1.0/identityProviders", Token: tok,
		Body: map[string]any{"name": name, "type": typ, "clientId": clientID, "clientSecret": "fixture-secret"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("fixture: create %s provider: %d %s", typ, r.Status, r.Body)
	}
	id, _ := r.JSON(t)["id"].(string)
	if id == "" {
		t.Fatalf("fixture: created provider has no id: %s", r.Body)
	}
	return confProvider{id: id, name: name, typ: typ, clientID: clientID}
}

// confAuthAfter is the authenticationConfiguration a connector shows after a
// write of the request's configuration (spec §1.4).
func confAuthAfter(t *testing.T, prev map[string]any, req map[string]any, certs []confCert) map[string]any {
	t.Helper()
	typ, _ := req["@odata.type"].(string)
	typ = strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(typ, "#"), "microsoft.graph."))
	switch typ {
	case "basicauthentication":
		username := confStr(req, "username", "")
		if _, ok := req["username"]; !ok && prev["@odata.type"] == "#microsoft.graph.basicAuthentication" {
			username, _ = prev["username"].(string)
		}
		return map[string]any{"@odata.type": "#microsoft.graph.basicAuthentication", "username": username, "password": confMaskSix}
	case "pkcs12certificate":
		// A pkcs12Certificate replaces the configuration.
		return map[string]any{"@odata.type": "#microsoft.graph.clientCertificateAuthentication", "certificateList": confCertList(certs)}
	case "apiauthenticationconfigurationbase":
		// Spelled as the classic revision's example returns it.
		return map[string]any{"@odata.type": "microsoft.graph.apiAuthenticationConfigurationBase"}
	}
	t.Fatalf("test does not know the authenticationConfiguration type %q", typ)
	return nil
}

// confReplay replays one served vector.
func confReplay(t *testing.T, s *testServer, profile graph.Profile, v confVector) {
	tg := confParseTarget(v.Request.Method, v.Request.Path)
	tenant := s.newTenant(confTenantKind(v), "")
	tok := s.adminToken(tenant.ID)

	var expected any
	if !confIsNull(v.Response.Body) {
		expected = confDecode(t, v.Response.Body)
	}
	fx := confSetup(t, s, tok, v, tg, expected)

	// The request body, with real certificates for the docs' fake ones.
	var body any
	var reqObj map[string]any
	var reqCerts []confCert
	if !confIsNull(v.Request.Body) {
		decoded := confDecode(t, v.Request.Body)
		reqObj = confMap(decoded)
		reqCerts = confSubstituteCerts(t, decoded)
		if len(reqCerts) > 0 {
			b, err := json.Marshal(decoded)
			if err != nil {
				t.Fatal(err)
			}
			body = b
		} else {
			body = []byte(v.Request.Body) // verbatim
		}
	}

	// The certificates the addressed connector shows afterwards.
	if len(reqCerts) > 0 && expected != nil {
		var all []confCert
		if strings.EqualFold(tg.action, "uploadClientCertificate") && fx.connector != nil {
			all = append(all, fx.connector.certs...) // upload adds
		}
		all = append(all, reqCerts...)
		confReplaceCertLists(t, expected, confCertList(all))
	}

	// A user-flow $ref example names its connector by placeholder.
	if fx.refConnector != "" && body != nil {
		if b, ok := body.([]byte); ok {
			body = []byte(strings.ReplaceAll(string(b), "{id}", fx.refConnector))
		}
	}

	// The v1.0 apiConnectorConfiguration example points one per-step
	// @odata.context at /beta/ (a documentation defect, spec notes): a v1.0
	// response names v1.0.
	if m := confMap(expected); m != nil && tg.version == "v1.0" {
		for k, val := range m {
			if str, ok := val.(string); ok && strings.HasSuffix(k, "@odata.context") {
				m[k] = strings.Replace(str, "https://graph.microsoft.com/beta/", "https://graph.microsoft.com/v1.0/", 1)
			}
		}
	}

	isConnectorPatch := tg.api == confConnectors && tg.method == "PATCH" && tg.entityOp()
	var patched map[string]any // the connector a successful PATCH leaves
	if isConnectorPatch {
		c := *fx.connector
		c.name = confStr(reqObj, "displayName", c.name)
		c.target = confStr(reqObj, "targetUrl", c.target)
		if a := confMap(reqObj["authenticationConfiguration"]); a != nil {
			c.auth = confAuthAfter(t, c.auth, a, reqCerts)
		}
		patched = c.entity()
	}

	before := s.snapshot()
	r := s.do(confRequest(v, fx.path, body, tok))

	if tg.api == confDeprecated {
		confCheckDeprecationHeaders(t, r)
	}

	// Under the current profile the classic revision's example (abstract
	// authentication type, targetUrl "String") is rejected and changes nothing.
	if v.dir == "classic" && profile == graph.ProfileCurrent {
		checkError(t, r, http.StatusBadRequest, "Request_BadRequest")
		if after := s.snapshot(); !reflect.DeepEqual(before, after) {
			t.Errorf("a rejected request changed the store:\n%s", snapshotDiffConf(before, after))
		}
		return
	}

	status, truncated := v.Response.Status, v.Response.Truncated
	if isConnectorPatch && profile == graph.ProfileClassic && status == http.StatusNoContent {
		// The one documented difference: the classic profile answers 200
		// with the updated connector (README, decision D1).
		status, truncated = http.StatusOK, true
		expected = confClone(patched)
		confMap(expected)["@odata.type"] = "#microsoft.graph.identityApiConnector"
	}

	if r.Status != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", v.Request.Method, fx.path, r.Status, status, r.Body)
	}
	masks := map[string]string{"password": confMaskSix, "certificateData": confMaskSix, "clientSecret": confMaskSix,
		"clientAuthentication.clientSecret": confMaskFive}
	if tg.api == confDeprecated {
		masks["clientSecret"] = confMaskFive
	}
	m := confMatcher{t: t, masks: masks}
	if expected == nil {
		if len(r.Body) != 0 {
			t.Errorf("body = %q, want none", r.Body)
		}
	} else {
		got := confDecode(t, r.Body)
		m.match("body", expected, got, truncated)
		if fx.connector != nil && tg.method != "DELETE" {
			if id, _ := confMap(got)["id"].(string); !strings.EqualFold(id, fx.connector.id) {
				t.Errorf("body id = %q, want the fixture connector %q", id, fx.connector.id)
			}
		}
		if isConnectorPatch {
			// The body shows the patched configuration exactly (for the
			// classic vectors: the abstract base type, nothing more).
			m.match("body.authenticationConfiguration", patched["authenticationConfiguration"],
				confMap(got)["authenticationConfiguration"], false)
		}
	}

	// Afterwards: a patch is visible on GET, a deleted object is gone.
	switch {
	case isConnectorPatch:
		g := s.do(request{Method: "GET", Path: fx.path, Token: tok})
		if g.Status != http.StatusOK {
			t.Fatalf("GET after PATCH: %d %s", g.Status, g.Body)
		}
		got := confDecode(t, g.Body)
		m.match("GET after PATCH", patched, got, true)
		m.match("GET after PATCH.authenticationConfiguration", patched["authenticationConfiguration"],
			confMap(got)["authenticationConfiguration"], false)
		if id, _ := confMap(got)["id"].(string); id != fx.connector.id {
			t.Errorf("GET after PATCH: id = %q, want %q", id, fx.connector.id)
		}
	case tg.api == confDeprecated && tg.method == "PATCH" && tg.entityOp():
		p := *fx.provider
		p.name = confStr(reqObj, "name", p.name)
		p.clientID = confStr(reqObj, "clientId", p.clientID)
		g := s.do(request{Method: "GET", Path: fx.path, Token: tok})
		if g.Status != http.StatusOK {
			t.Fatalf("GET after PATCH: %d %s", g.Status, g.Body)
		}
		m.match("GET after PATCH", p.entity(), confDecode(t, g.Body), true)
	case tg.api == confProviders && tg.method == "PATCH" && tg.entityOp():
		// Every property the example sends (but the type and secrets) reads back.
		g := s.do(request{Method: "GET", Path: fx.path, Token: tok})
		if g.Status != http.StatusOK {
			t.Fatalf("GET after PATCH: %d %s", g.Status, g.Body)
		}
		want := map[string]any{}
		for k, val := range reqObj {
			if _, secret := masks[k]; !secret && k != "@odata.type" {
				want[k] = val
			}
		}
		m.match("GET after PATCH", want, confDecode(t, g.Body), true)
	case tg.api == confFlows && tg.method == "PUT":
		// The step calls the referenced connector, or nothing once detached.
		g := s.do(request{Method: "GET", Path: strings.TrimSuffix(fx.path, "/"+tg.step+"/$ref") + "?$expand=" + tg.step, Token: tok})
		if g.Status != http.StatusOK {
			t.Fatalf("GET after PUT: %d %s", g.Status, g.Body)
		}
		got := confMap(confMap(confDecode(t, g.Body))[tg.step])
		if strings.Contains(string(v.Request.Body), "@odata.id") {
			if id, _ := got["id"].(string); id != fx.refConnector {
				t.Errorf("after PUT $ref, %s = %s, want connector %s", tg.step, g.Body, fx.refConnector)
			}
		} else if got != nil {
			t.Errorf("after detaching, %s = %s, want null", tg.step, g.Body)
		}
	case tg.method == "DELETE" && tg.entityOp():
		g := s.do(request{Method: "GET", Path: fx.path, Token: tok})
		checkError(t, g, http.StatusNotFound, "Request_ResourceNotFound")
	}
}

// confCheckDeprecationHeaders: every response of the deprecated API carries
// Graph's deprecation headers (decision D5).
func confCheckDeprecationHeaders(t *testing.T, r response) {
	t.Helper()
	if got := r.Header.Get("Deprecation"); got != "Tue, 24 Aug 2021 00:00:00 GMT" {
		t.Errorf("Deprecation header = %q", got)
	}
	if got := r.Header.Get("Sunset"); got != "Wed, 15 Mar 2023 00:00:00 GMT" {
		t.Errorf("Sunset header = %q", got)
	}
	if got := r.Header.Get("Link"); !strings.Contains(got, `rel="deprecation"`) {
		t.Errorf("Link header = %q, want a rel=\"deprecation\" link", got)
	}
}

// confMatcher compares an expected JSON value with a response's.
type confMatcher struct {
	t     *testing.T
	masks map[string]string // secret property → the mask it must show
}

// match compares want with got. truncated: every expected key must be present
// with an equal value, extra keys are allowed; otherwise the key sets must be
// equal too. Arrays are compared element by element with the same rule and
// must have the same length. The value of "id" is only checked to be a
// non-empty string, unless the example shows a real id (Amazon-OAUTH) rather
// than a GUID or a placeholder; secrets must equal their mask.
func (m confMatcher) match(path string, want, got any, truncated bool) {
	m.t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			m.t.Errorf("%s = %s, want an object %s", path, confJSON(got), confJSON(want))
			return
		}
		for _, k := range slices.Sorted(maps.Keys(w)) {
			p := path + "." + k
			gv, present := g[k]
			if !present {
				m.t.Errorf("%s is missing; want %s (got %s)", p, confJSON(w[k]), confJSON(g))
				continue
			}
			if k == "id" {
				gs, _ := gv.(string)
				ws, _ := w[k].(string)
				if gs == "" {
					m.t.Errorf("%s = %s, want a non-empty string", p, confJSON(gv))
				} else if !confPlaceholderID(ws) && gs != ws {
					m.t.Errorf("%s = %q, want %q", p, gs, ws)
				}
				continue
			}
			if k == "@odata.type" {
				// The docs print type names with and without "#" and in
				// varying case (spec §1.7); the server writes one form.
				ws, _ := w[k].(string)
				gs, _ := gv.(string)
				if !strings.EqualFold(strings.TrimPrefix(ws, "#"), strings.TrimPrefix(gs, "#")) {
					m.t.Errorf("%s = %q, want %q", p, gs, ws)
				}
				continue
			}
			mask, secret := m.masks[k]
			if parent := path[strings.LastIndex(path, ".")+1:]; m.masks[parent+"."+k] != "" {
				mask, secret = m.masks[parent+"."+k], true
			}
			if secret {
				if gv != mask {
					m.t.Errorf("%s = %s, want the mask %q", p, confJSON(gv), mask)
				}
				continue
			}
			m.match(p, w[k], gv, truncated)
		}
		if !truncated {
			for _, k := range slices.Sorted(maps.Keys(g)) {
				if _, ok := w[k]; !ok {
					m.t.Errorf("%s.%s = %s is not in the expected body", path, k, confJSON(g[k]))
				}
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			m.t.Errorf("%s = %s, want %s", path, confJSON(got), confJSON(want))
			return
		}
		for i := range w {
			m.match(path+"["+strconv.Itoa(i)+"]", w[i], g[i], truncated)
		}
	default:
		if !reflect.DeepEqual(want, got) {
			m.t.Errorf("%s = %s, want %s", path, confJSON(got), confJSON(want))
		}
	}
}

// confPlaceholderID reports an example id whose value means nothing: a GUID
// (made up by the docs) or a placeholder such as "guid", "<guid1>", "{id}".
func confPlaceholderID(s string) bool {
	return s == "" || graph.IsGUID(s) || strings.Contains(strings.ToLower(s), "guid") ||
		strings.HasPrefix(s, "{") || strings.HasPrefix(s, "<") || confEmbeddedGUID.MatchString(s)
}

// confEmbeddedGUID finds ids made of a name and a GUID of the docs' making
// (OIDC-V1-MyTest-085a8a0c-..., Contoso-OIDC-00001111-...).
var confEmbeddedGUID = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

func confJSON(x any) string {
	b, err := json.Marshal(x)
	if err != nil {
		return "<unprintable>"
	}
	return string(b)
}

// confClone deep-copies a decoded JSON value.
func confClone[T any](x T) T {
	b, err := json.Marshal(x)
	if err != nil {
		panic(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// snapshotDiffConf lists the records that differ between two snapshots.
func snapshotDiffConf(a, b map[string]string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if bv, ok := b[k]; !ok {
			out = append(out, "- "+k)
		} else if bv != a[k] {
			out = append(out, "~ "+k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if _, ok := a[k]; !ok {
			out = append(out, "+ "+k)
		}
	}
	return strings.Join(out, "\n")
}
