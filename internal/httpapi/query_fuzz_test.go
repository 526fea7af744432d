package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/idgraph/internal/directory"
	"github.com/idgraph/idgraph/internal/graph"
)

// FuzzQueryOptions sends GET {version}/{path}?{rawQuery} with an admin
// token, for every collection, entity and /$count path of the slice, and
// checks for every input:
//   - the status is 2xx or 4xx (no 5xx, so no panic either);
//   - a 4xx body is Graph's error envelope with a code and a message;
//   - a 2xx /$count body is text/plain holding an integer no larger than
//     the collection; a 2xx collection is a JSON object with a value
//     array, a nextLink (if any) on the server's address that, followed, answers
//     200 with other items; a 2xx entity is a JSON object with an id;
//   - no body shows a stored secret;
//   - while fuzzing, each answer comes within qfBudget (an answer slower
//     than that is measured twice more, and only slow three times counts).
//
// One server per fuzz process serves every input: the requests only read,
// so no input changes what the next one meets.
func FuzzQueryOptions(f *testing.F) {
	fx := qfSetup(f)
	for _, sd := range qfSeeds() {
		f.Add(sd.query, sd.path, sd.beta)
	}
	f.Fuzz(func(t *testing.T, rawQuery string, pathIndex int, beta bool) {
		fx.s.t = t
		p := qfPaths[((pathIndex%len(qfPaths))+len(qfPaths))%len(qfPaths)]
		version := "v1.0"
		if beta {
			version = "beta"
		}
		target, ok := qfTarget("/"+version+"/"+fx.expand(p.path), rawQuery)
		if !ok {
			t.Skip("not a request target, even escaped")
		}
		tok := fx.tok[p.tenant]
		r := fx.timed(t, target, tok)
		fx.check(t, p, version, target, tok, r)
	})
}

// qfBudget is the time within which every answer must come.
const qfBudget = 100 * time.Millisecond

// qfPath is one GET path of the slice; {conn} stands for a connector id.
type qfPath struct {
	path   string
	tenant string // "b2c" or "wf": whose admin token reads it
	kind   string // "list", "entity" or "count"
}

var qfPaths = []qfPath{
	{"identity/apiConnectors", "b2c", "list"},
	{"identity/apiConnectors/{conn}", "b2c", "entity"},
	{"identity/apiConnectors/$count", "b2c", "count"},
	{"identity/identityProviders", "b2c", "list"},
	{"identity/identityProviders/Amazon-OAUTH", "b2c", "entity"},
	{"identity/identityProviders/$count", "b2c", "count"},
	{"identityProviders", "b2c", "list"},
	{"identityProviders/Google-OAUTH", "b2c", "entity"},
	{"identityProviders/$count", "b2c", "count"},
	{"identity/b2cUserFlows", "b2c", "list"},
	{"identity/b2cUserFlows/B2C_1_SignUp", "b2c", "entity"},
	{"identity/b2cUserFlows/$count", "b2c", "count"},
	{"identity/b2cUserFlows/B2C_1_SignUp/identityProviders", "b2c", "list"},
	{"identity/b2cUserFlows/B2C_1_SignUp/identityProviders/$count", "b2c", "count"},
	{"identity/b2xUserFlows", "wf", "list"},
	{"identity/b2xUserFlows/B2X_1_Partner", "wf", "entity"},
	{"identity/b2xUserFlows/$count", "wf", "count"},
	{"identity/b2xUserFlows/B2X_1_Partner/identityProviders", "wf", "list"},
	{"identity/b2xUserFlows/B2X_1_Partner/identityProviders/$count", "wf", "count"},
	{"identity/identityProviders", "wf", "list"},
	{"identity/identityProviders/MSASignup-OAUTH", "wf", "entity"},
	{"identityProviders", "wf", "list"},
}

// qfPathIndex returns the index of a path of qfPaths (for seeds).
func qfPathIndex(path, tenant string) int {
	for i, p := range qfPaths {
		if p.path == path && p.tenant == tenant {
			return i
		}
	}
	panic("no fuzz path " + tenant + " " + path)
}

// qfFixture is the server every input reads.
type qfFixture struct {
	s       *testServer
	logs    *fzLogTail
	wire    *fzWire
	tok     map[string]string // tenant name → admin token
	conn    string            // a connector of the B2C tenant
	secrets []string          // every stored secret
}

func (fx *qfFixture) expand(path string) string { return strings.ReplaceAll(path, "{conn}", fx.conn) }

// qfSetup starts the server and fills it over HTTP: in the B2C tenant 30
// connectors, the Amazon, Google, Apple and an OpenID Connect provider, two
// B2C flows (SignUp offers Amazon and the OpenID Connect one); in a
// workforce tenant Google and Facebook and two B2X flows (Partner offers
// both).
func qfSetup(f *testing.F) *qfFixture {
	f.Helper()
	s, logs := fzNewServer(f)
	wf := s.newTenant(graph.TenantWorkforce, "")
	mint := func(tenant string) string {
		tok, err := s.Dir.Mint(context.Background(), directory.MintOptions{Tenant: tenant, Issuer: s.URL, TTL: 7 * 24 * time.Hour,
			Roles: []string{"APIConnectors.ReadWrite.All", "IdentityProvider.ReadWrite.All", "IdentityUserFlow.ReadWrite.All"}})
		if err != nil {
			f.Fatal(err)
		}
		return tok
	}
	fx := &qfFixture{s: s, logs: logs, wire: &fzWire{addr: strings.TrimPrefix(s.URL, "http://")},
		tok: map[string]string{"b2c": mint(s.Tenant.ID), "wf": mint(wf.ID)}}
	f.Cleanup(fx.wire.close)
	post := func(tenant, path string, body any, status int) map[string]any {
		r := s.do(request{Method: "POST", Path: path, Token: fx.tok[tenant], Body: body})
		if r.Status != status {
			f.Fatalf("fixture POST %s: %d %s", path, r.Status, r.Body)
		}
		var m map[string]any
		if len(r.Body) > 0 {
			if err := json.Unmarshal(r.Body, &m); err != nil {
				f.Fatal(err)
			}
		}
		return m
	}
	names := []string{"Alpha", "alpha two", "O'Brien", "Ünïcödé", "100%_done", "a,b (c)", "Beta", "BETA", "gamma", "delta"}
	for i := range 30 {
		name := fmt.Sprintf("conn %02d", i)
		if i < len(names) {
			name = names[i]
		}
		pw := fmt.Sprintf("qf-connector-secret-%02d", i)
		fx.secrets = append(fx.secrets, pw)
		m := post("b2c", "/v1.0/identity/apiConnectors", map[string]any{
			"displayName": name, "targetUrl": "https://api.example.com/" + strconv.Itoa(i),
			"authenticationConfiguration": map[string]any{"@odata.type": "#microsoft.graph.basicAuthentication", "username": "u", "password": pw},
		}, http.StatusCreated)
		if i == 0 {
			fx.conn, _ = m["id"].(string)
		}
	}
	for _, p := range []struct{ tenant, typ string }{{"b2c", "Amazon"}, {"b2c", "Google"}, {"wf", "Google"}, {"wf", "Facebook"}} {
		sec := "qf-social-secret-" + p.tenant + p.typ
		fx.secrets = append(fx.secrets, sec)
		post(p.tenant, "/v1.0/identityProviders", map[string]any{"name": "Login with " + p.typ, "type": p.typ,
			"clientId": "client-" + p.typ, "clientSecret": sec}, http.StatusCreated)
	}
	fx.secrets = append(fx.secrets, "qf-apple-key", "qf-oidc-secret")
	post("b2c", "/beta/identity/identityProviders", ipAppleBody("qf-apple-key"), http.StatusCreated)
	oidc, _ := post("b2c", "/beta/identity/identityProviders", cvOpenIDConnectBody("Contoso", "cid", "qf-oidc-secret"), http.StatusCreated)["id"].(string)
	post("b2c", "/beta/identity/b2cUserFlows", ufFlowBody("SignUp", "signUp", 3), http.StatusCreated)
	post("b2c", "/beta/identity/b2cUserFlows", ufFlowBody("Profile", "profileUpdate", 1, "isLanguageCustomizationEnabled", true,
		"defaultLanguageTag", "fr-CA"), http.StatusCreated)
	for _, ref := range []string{"/beta/identityProviders/Amazon-OAUTH", "/beta/identity/identityProviders/" + oidc} {
		post("b2c", "/beta/identity/b2cUserFlows/B2C_1_SignUp/identityProviders/$ref", map[string]any{"@odata.id": ufGraphRoot + ref}, http.StatusNoContent)
	}
	post("wf", "/v1.0/identity/b2xUserFlows", ufFlowBody("Partner", "signUpOrSignIn", 1), http.StatusCreated)
	post("wf", "/v1.0/identity/b2xUserFlows", ufFlowBody("Vendor", "signUpOrSignIn", 1), http.StatusCreated)
	for _, id := range []string{"Google-OAUTH", "Facebook-OAUTH"} {
		post("wf", "/v1.0/identity/b2xUserFlows/B2X_1_Partner/identityProviders/$ref",
			map[string]any{"@odata.id": ufGraphRoot + "/v1.0/identityProviders/" + id}, http.StatusNoContent)
	}
	return fx
}

// qfTarget is the request target for path and a raw query: the query as
// the input has it where that is a valid target, else with the bytes a
// request line cannot carry percent-encoded.
func qfTarget(path, rawQuery string) (string, bool) {
	if t := path + "?" + rawQuery; fzValidTarget(t) {
		return t, true
	}
	var b strings.Builder
	for i := 0; i < len(rawQuery); i++ {
		c := rawQuery[i]
		if c <= ' ' || c == 0x7f || c == '#' || c >= 0x80 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	t := path + "?" + b.String()
	return t, fzValidTarget(t)
}

// timed sends one GET. While fuzzing, an answer slower than qfBudget is
// measured again, twice, and fails the input only when every measurement
// is slow: on a busy machine a single slow answer (or two: one scheduler
// pause can span both) is no finding. Plain go test runs (the seeds) skip
// the timing.
func (fx *qfFixture) timed(t *testing.T, target, tok string) response {
	t.Helper()
	start := time.Now()
	r := fx.wire.do(t, "GET", target, tok, nil)
	if first := time.Since(start); fzFuzzing() && first > qfBudget {
		times := []time.Duration{first}
		for range 2 {
			time.Sleep(10 * time.Millisecond)
			start = time.Now()
			fx.wire.do(t, "GET", target, tok, nil)
			d := time.Since(start)
			if d <= qfBudget {
				return r
			}
			times = append(times, d)
		}
		t.Fatalf("GET %q answered in %v each time; budget %v", target, times, qfBudget)
	}
	return r
}

// check applies the invariants to the answer r of GET target.
func (fx *qfFixture) check(t *testing.T, p qfPath, version, target, tok string, r response) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("GET %q: %s\nstatus %d, Content-Type %q, body %s\nserver log: %s", target, fmt.Sprintf(format, args...),
			r.Status, r.Header.Get("Content-Type"), fzShort(string(r.Body)), fx.logs.find(r.Header.Get("request-id")))
	}
	for _, sec := range fx.secrets {
		if bytes.Contains(r.Body, []byte(sec)) {
			fail("the body shows a stored secret")
		}
	}
	switch {
	case r.Status >= 400 && r.Status < 500:
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			fail("error Content-Type is not application/json")
		}
		var env struct {
			Error *struct {
				Code       string `json:"code"`
				Message    string `json:"message"`
				InnerError struct {
					RequestID string `json:"request-id"`
				} `json:"innerError"`
			} `json:"error"`
		}
		if err := json.Unmarshal(r.Body, &env); err != nil || env.Error == nil || env.Error.Code == "" || env.Error.Message == "" {
			fail("no Graph error envelope with code and message (%v)", err)
		}
		if id := r.Header.Get("request-id"); id == "" || env.Error.InnerError.RequestID != id {
			fail("innerError.request-id %q, header request-id %q", env.Error.InnerError.RequestID, id)
		}
		return
	case r.Status < 200 || r.Status >= 300:
		fail("status neither 2xx nor 4xx")
	}

	switch p.kind {
	case "count":
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			fail("/$count answered with Content-Type other than text/plain")
		}
		n, err := strconv.Atoi(string(r.Body))
		if err != nil || n < 0 || strconv.Itoa(n) != string(r.Body) {
			fail("/$count body is not an integer")
		}
		if n > 40 {
			fail("/$count is %d; no collection of the fixture has more than 40 items", n)
		}
	case "entity":
		var m map[string]any
		if err := json.Unmarshal(r.Body, &m); err != nil {
			fail("entity body is not a JSON object: %v", err)
		}
		if id, _ := m["id"].(string); id == "" {
			fail("entity without id")
		}
	case "list":
		page := fx.page(fail, r.Body)
		if page.NextLink == "" {
			return
		}
		root := fx.s.URL + "/" + version + "/" // links lead back to the server
		rest, ok := strings.CutPrefix(page.NextLink, root)
		if !ok {
			fail("nextLink %q is not on %s", page.NextLink, root)
		}
		next := fx.timed(t, "/"+version+"/"+rest, tok)
		if next.Status != http.StatusOK {
			fail("following nextLink %q answered %d: %s", page.NextLink, next.Status, fzShort(string(next.Body)))
		}
		for _, sec := range fx.secrets {
			if bytes.Contains(next.Body, []byte(sec)) {
				fail("the next page shows a stored secret")
			}
		}
		second := fx.page(fail, next.Body)
		seen := map[string]bool{}
		for _, id := range page.ids {
			seen[strings.ToLower(id)] = true
		}
		for _, id := range second.ids {
			if seen[strings.ToLower(id)] {
				fail("following nextLink %q shows %s again", page.NextLink, id)
			}
		}
	}
}

type qfPage struct {
	NextLink string
	ids      []string
}

// page decodes a collection body: a JSON object with a value array of
// objects with ids.
func (fx *qfFixture) page(fail func(string, ...any), body []byte) qfPage {
	var c struct {
		NextLink string           `json:"@odata.nextLink"`
		Value    []map[string]any `json:"value"`
	}
	if err := json.Unmarshal(body, &c); err != nil || c.Value == nil {
		fail("collection body is not an object with a value array (%v)", err)
	}
	p := qfPage{NextLink: c.NextLink}
	for _, it := range c.Value {
		id, _ := it["id"].(string)
		if id == "" {
			fail("collection item without id")
		}
		p.ids = append(p.ids, id)
	}
	if len(p.ids) > 100 {
		fail("%d items on a page", len(p.ids))
	}
	return p
}

type qfSeed struct {
	query string
	path  int
	beta  bool
}

// qfSeeds are realistic queries on the paths they fit, and some that are
// not.
func qfSeeds() []qfSeed {
	conns := qfPathIndex("identity/apiConnectors", "b2c")
	conn := qfPathIndex("identity/apiConnectors/{conn}", "b2c")
	connCount := qfPathIndex("identity/apiConnectors/$count", "b2c")
	provs := qfPathIndex("identity/identityProviders", "b2c")
	prov := qfPathIndex("identity/identityProviders/Amazon-OAUTH", "b2c")
	dep := qfPathIndex("identityProviders", "b2c")
	depCount := qfPathIndex("identityProviders/$count", "b2c")
	b2c := qfPathIndex("identity/b2cUserFlows", "b2c")
	b2cProv := qfPathIndex("identity/b2cUserFlows/B2C_1_SignUp/identityProviders", "b2c")
	b2x := qfPathIndex("identity/b2xUserFlows", "wf")
	b2xProvCount := qfPathIndex("identity/b2xUserFlows/B2X_1_Partner/identityProviders/$count", "wf")
	enc := func(kv ...string) string { return strings.TrimPrefix(qtWith("", kv...), "?") }
	return []qfSeed{
		{"", conns, false},
		{"$top=5", conns, false},
		{"$top=5&$count=true", conns, true},
		{"top=3&filter=startswith(displayName,'conn')", conns, true},
		{enc("$filter", "displayName eq 'O''Brien'"), conns, false},
		{enc("$filter", "startswith(displayName,'alpha') or endswith(targetUrl,'/7')", "$orderby", "displayName desc", "$top", "2"), conns, false},
		{enc("$filter", "not (displayName in ('Beta','gamma')) and displayName ne null", "$top", "4", "$select", "displayName"), conns, true},
		{enc("$filter", "id eq 6ba7b810-9dad-11d1-80b4-00c04fd430c8"), conns, false},
		{enc("$orderby", "displayName,id desc", "$top", "7"), conns, false},
		{enc("$orderby", "id desc", "$top", "1", "$count", "true"), conns, true},
		{enc("$select", "displayName,targetUrl,authenticationConfiguration"), conns, false},
		{enc("$select", "*"), conns, true},
		{"$filter=displayName+eq+'Alpha'", conns, false},
		{"$skiptoken=eyJrIjpbXSwicyI6NX0.tk43ekl_CDRMICaOwg9F7g&$top=1", conns, false},
		{"$top=0", conns, false},
		{"$top=1000&$skip=1", conns, false},
		{"$top=1&$top=2", conns, false},
		{"$foo=bar&$count=maybe", conns, false},
		{enc("$filter", strings.Repeat("(", 60)+"displayName eq 'x'"+strings.Repeat(")", 60)), conns, false},
		{enc("$filter", "displayName in ("+strings.Repeat("'x',", 120)+"'y')"), conns, false},
		{"$filter=%zz", conns, false},
		{enc("$select", "displayName"), conn, false},
		{enc("$select", "targetUrl", "$top", "1"), conn, true},
		{enc("$filter", "startswith(displayName,'a')"), connCount, false},
		{"filter=displayName%20eq%20'Beta'", connCount, true},
		{enc("$filter", "identityProviderType in ('Amazon','Google') or clientId eq null", "$orderby", "displayName desc"), provs, false},
		{enc("$filter", "domainHint eq 'contoso' or metadataUrl ne null", "$top", "1"), provs, true},
		{enc("$select", "clientSecret,certificateData,claimsMapping"), provs, true},
		{enc("$select", "displayName,identityProviderType"), prov, false},
		{enc("$filter", "type eq 'OpenIDConnect' or name eq 'Login with Amazon'", "$top", "1"), dep, true},
		{enc("$select", "name,type,clientSecret", "$orderby", "name desc"), dep, false},
		{enc("$filter", "startswith(name,'Login')"), depCount, false},
		{enc("$filter", "isLanguageCustomizationEnabled eq true and defaultLanguageTag eq 'fr-CA'"), b2c, true},
		{enc("$filter", "isLanguageCustomizationEnabled eq 'yes'"), b2c, true},
		{enc("$orderby", "id desc", "$top", "1", "$select", "userFlowType"), b2c, true},
		{enc("$filter", "type ne 'Amazon'", "$count", "true"), b2cProv, true},
		{enc("$filter", "userFlowType eq 'signUpOrSignIn'", "$top", "1"), b2x, false},
		{enc("$filter", "type eq 'Google'"), b2xProvCount, false},
		{"$expand=identityProviders", b2x, false},
		{"$format=json&$count=false", provs, false},
	}
}
