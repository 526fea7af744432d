package httpapi_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/idgraph/internal/certinfo/certtest"
	"github.com/idgraph/idgraph/internal/graph"
)

// National clouds (D8, §2 cloud tables, §4.8) and the deprecated-API sunset
// emulation (D5). The availability table and the hosts are spelled out here
// from the spec, not read from the graph package.

// cloudRoots is each cloud's Microsoft Graph root (§4.8).
var cloudRoots = map[graph.Cloud]string{
	graph.CloudGlobal:   "https://graph.microsoft.com",
	graph.CloudUSGov:    "https://graph.microsoft.us",
	graph.CloudUSGovDoD: "https://dod-graph.microsoft.us",
	graph.CloudChina:    "https://microsoftgraph.chinacloudapi.cn",
}

var cloudAll = []graph.Cloud{graph.CloudGlobal, graph.CloudUSGov, graph.CloudUSGovDoD, graph.CloudChina}

// The API families as the spec's cloud tables group them.
const (
	cloudFamConnectors = "apiConnectors"              // §2.1
	cloudFamProviders  = "identity.identityProviders" // §2.3
	cloudFamDeprecated = "identityProviders"          // §2.4
	cloudFamB2XFlows   = "b2xUserFlows"               // §2.2, §2.5 (with the flow's identityProviders)
	cloudFamB2CFlows   = "b2cUserFlows"               // §2.2 (beta only)
)

// cloudAvailable is the oracle: whether family exists in version on cloud,
// and if not, the segment Graph names as unknown. apiConnectors, the new
// identityProviders and b2xUserFlows: v1.0 Global + China, beta all four.
// The deprecated /identityProviders: everywhere. b2cUserFlows: beta only.
func cloudAvailable(cloud graph.Cloud, version, family string) (segment string, ok bool) {
	usGov := cloud == graph.CloudUSGov || cloud == graph.CloudUSGovDoD
	switch family {
	case cloudFamConnectors:
		if version == "v1.0" && usGov {
			return "apiConnectors", false
		}
	case cloudFamProviders:
		if version == "v1.0" && usGov {
			return "identityProviders", false
		}
	case cloudFamB2XFlows:
		if version == "v1.0" && usGov {
			return "b2xUserFlows", false
		}
	case cloudFamB2CFlows:
		if version == "v1.0" {
			return "b2cUserFlows", false
		}
	}
	return "", true
}

// cloudIDs names the objects a step's path and body refer to.
type cloudIDs map[string]string

// cloudStep is one request of a family's scenario. Run in order where the
// family exists, the steps create, use and delete objects of their own;
// where it does not, every step names the fixtures instead and must answer
// 400 without touching them.
type cloudStep struct {
	name    string
	method  string
	tenant  string // "b2c" or "workforce": whose admin runs it
	path    func(ids cloudIDs) string
	body    func(root, version string, ids cloudIDs) any
	want    int    // status where the family exists
	ctx     string // "always" or "beta": the response must carry @odata.context
	save    string // the response's id is stored under this name
	created string // a create: Location must name this object (an ids name)
}

// cloudFamily is the scenario of one API family.
type cloudFamily struct {
	name  string
	steps []cloudStep
	// own are the ids the scenario creates where the family exists; fixture
	// the existing objects the same paths name where it does not.
	own, fixture func(f *cloudFixture) cloudIDs
}

// cloudFixture is what each cloud's server holds before the scenarios run,
// all created through beta (which has every family in every cloud).
type cloudFixture struct {
	s               *testServer
	tenants, admins map[string]string // "b2c", "workforce" → tenant id, admin token
	b2cConn, wfConn string            // connectors the fixture flows call
	pfx             certtest.PFX
	// Tokens without any permission of the slice: app-only with no roles
	// (B2C tenant), app-only with User.Read.All and delegated with only the
	// OpenID Connect scopes (workforce tenant).
	noPerm, noPermWF string
	userNoPermWF     string
}

// cloudPath is a path that names no object.
func cloudPath(s string) func(cloudIDs) string { return func(cloudIDs) string { return s } }

func cloudFamilies() []cloudFamily {
	connBody := func(string, string, cloudIDs) any { return permConnectorBody() }
	flowSteps := func(coll, tenant string, typeVersion int) []cloudStep {
		base := "/identity/" + coll
		flow := func(suffix string) func(cloudIDs) string {
			return func(ids cloudIDs) string { return base + "/" + ids["flow"] + suffix }
		}
		return []cloudStep{
			{name: "list", method: "GET", tenant: tenant, path: cloudPath(base), want: 200, ctx: "always"},
			{name: "create", method: "POST", tenant: tenant, path: cloudPath(base), want: 201, ctx: "always", created: "flow",
				body: func(string, string, cloudIDs) any {
					return map[string]any{"id": "CloudNew", "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": typeVersion}
				}},
			{name: "get", method: "GET", tenant: tenant, path: flow(""), want: 200, ctx: "always"},
			{name: "get.key", method: "GET", tenant: tenant, path: func(ids cloudIDs) string { return base + "('" + ids["flow"] + "')" },
				want: 200, ctx: "always"},
			{name: "apiConnectorConfiguration.putRef", method: "PUT", tenant: tenant,
				path: flow("/apiConnectorConfiguration/postFederationSignup/$ref"), want: 204,
				body: func(root, version string, ids cloudIDs) any {
					return map[string]any{"@odata.id": root + "/" + version + "/identity/apiConnectors/" + ids["conn"]}
				}},
			{name: "apiConnectorConfiguration.get", method: "GET", tenant: tenant,
				path: flow("/apiConnectorConfiguration?$expand=postFederationSignup"), want: 200, ctx: "always"},
			{name: "apiConnectorConfiguration.step.get", method: "GET", tenant: tenant,
				path: flow("/apiConnectorConfiguration/postFederationSignup"), want: 200, ctx: "always"},
			{name: "apiConnectorConfiguration.detach", method: "PUT", tenant: tenant,
				path: flow("/apiConnectorConfiguration/postFederationSignup/$ref"), want: 204,
				body: func(string, string, cloudIDs) any { return map[string]any{} }},
			{name: "identityProviders.addRef", method: "POST", tenant: tenant, path: flow("/identityProviders/$ref"), want: 204,
				body: func(root, version string, ids cloudIDs) any {
					return map[string]any{"@odata.id": root + "/" + version + "/identityProviders/Google-OAUTH"}
				}},
			{name: "identityProviders.list", method: "GET", tenant: tenant, path: flow("/identityProviders"), want: 200, ctx: "always"},
			{name: "identityProviders.removeRef", method: "DELETE", tenant: tenant,
				path: flow("/identityProviders/Google-OAUTH/$ref"), want: 204},
			{name: "identityProviders.put", method: "PUT", tenant: tenant, path: flow("/identityProviders"), want: 405,
				body: func(string, string, cloudIDs) any { return map[string]any{} }},
			{name: "patch", method: "PATCH", tenant: tenant, path: flow(""), want: 405,
				body: func(string, string, cloudIDs) any { return map[string]any{"userFlowTypeVersion": typeVersion} }},
			{name: "delete", method: "DELETE", tenant: tenant, path: flow(""), want: 204},
		}
	}
	return []cloudFamily{
		{name: cloudFamConnectors,
			own:     func(f *cloudFixture) cloudIDs { return cloudIDs{} },
			fixture: func(f *cloudFixture) cloudIDs { return cloudIDs{"conn": f.b2cConn} },
			steps: []cloudStep{
				{name: "list", method: "GET", tenant: "b2c", path: cloudPath("/identity/apiConnectors"), want: 200, ctx: "always"},
				{name: "create", method: "POST", tenant: "b2c", path: cloudPath("/identity/apiConnectors"), body: connBody, want: 201,
					ctx: "always", save: "conn", created: "conn"},
				{name: "get", method: "GET", tenant: "b2c", path: func(ids cloudIDs) string { return "/identity/apiConnectors/" + ids["conn"] },
					want: 200, ctx: "always"},
				{name: "get.key", method: "GET", tenant: "b2c",
					path: func(ids cloudIDs) string { return "/identity/apiConnectors('" + ids["conn"] + "')" }, want: 200, ctx: "always"},
				{name: "update", method: "PATCH", tenant: "b2c", path: func(ids cloudIDs) string { return "/identity/apiConnectors/" + ids["conn"] },
					body: func(string, string, cloudIDs) any { return map[string]any{"displayName": "Renamed in the cloud test"} },
					want: 200, ctx: "always"}, // classic profile: 200 with the connector
				{name: "uploadClientCertificate", method: "POST", tenant: "b2c",
					path: func(ids cloudIDs) string {
						return "/identity/apiConnectors/" + ids["conn"] + "/uploadClientCertificate"
					},
					want: 200, ctx: "always"}, // body set by the runner (needs the fixture's PFX)
				{name: "put", method: "PUT", tenant: "b2c", path: cloudPath("/identity/apiConnectors"), body: connBody, want: 405},
				{name: "delete", method: "DELETE", tenant: "b2c", path: func(ids cloudIDs) string { return "/identity/apiConnectors/" + ids["conn"] },
					want: 204},
			}},
		{name: cloudFamProviders,
			own:     func(*cloudFixture) cloudIDs { return cloudIDs{"provider": "Amazon-OAUTH"} },
			fixture: func(*cloudFixture) cloudIDs { return cloudIDs{"provider": "Facebook-OAUTH"} },
			steps: []cloudStep{
				{name: "list", method: "GET", tenant: "b2c", path: cloudPath("/identity/identityProviders"), want: 200, ctx: "always"},
				{name: "create", method: "POST", tenant: "b2c", path: cloudPath("/identity/identityProviders"), want: 201, ctx: "always", created: "provider",
					body: func(string, string, cloudIDs) any { return permNewProviderBody() }},
				{name: "get", method: "GET", tenant: "b2c",
					path: func(ids cloudIDs) string { return "/identity/identityProviders/" + ids["provider"] }, want: 200, ctx: "always"},
				{name: "update", method: "PATCH", tenant: "b2c",
					path: func(ids cloudIDs) string { return "/identity/identityProviders/" + ids["provider"] }, want: 204,
					body: func(string, string, cloudIDs) any { return map[string]any{"clientSecret": "cloud-secret-1"} }},
				{name: "availableProviderTypes", method: "GET", tenant: "b2c", path: cloudPath("/identity/identityProviders/availableProviderTypes"),
					want: 200, ctx: "always"},
				{name: "availableProviderTypes.qualified", method: "GET", tenant: "b2c",
					path: cloudPath("/identity/identityProviders/microsoft.graph.availableProviderTypes()"), want: 200, ctx: "always"},
				{name: "availableProviderTypes.post", method: "POST", tenant: "b2c",
					path: cloudPath("/identity/identityProviders/availableProviderTypes"), want: 405,
					body: func(string, string, cloudIDs) any { return map[string]any{} }},
				{name: "delete", method: "DELETE", tenant: "b2c",
					path: func(ids cloudIDs) string { return "/identity/identityProviders/" + ids["provider"] }, want: 204},
			}},
		{name: cloudFamDeprecated,
			own:     func(*cloudFixture) cloudIDs { return cloudIDs{"provider": "LinkedIn-OAUTH"} },
			fixture: func(*cloudFixture) cloudIDs { return cloudIDs{"provider": "Facebook-OAUTH"} },
			steps:   cloudDeprecatedSteps(),
		},
		{name: cloudFamB2XFlows,
			own: func(f *cloudFixture) cloudIDs { return cloudIDs{"flow": "B2X_1_CloudNew", "conn": f.wfConn} },
			fixture: func(f *cloudFixture) cloudIDs {
				return cloudIDs{"flow": "B2X_1_CloudFixture", "conn": f.wfConn}
			},
			steps: flowSteps("b2xUserFlows", "workforce", 1)},
		{name: cloudFamB2CFlows,
			own: func(f *cloudFixture) cloudIDs { return cloudIDs{"flow": "B2C_1_CloudNew", "conn": f.b2cConn} },
			fixture: func(f *cloudFixture) cloudIDs {
				return cloudIDs{"flow": "B2C_1_CloudFixture", "conn": f.b2cConn}
			},
			steps: flowSteps("b2cUserFlows", "b2c", 3)},
	}
}

// cloudDeprecatedSteps are the deprecated API's operations (§2.4).
func cloudDeprecatedSteps() []cloudStep {
	item := func(ids cloudIDs) string { return "/identityProviders/" + ids["provider"] }
	return []cloudStep{
		{name: "list", method: "GET", tenant: "b2c", path: cloudPath("/identityProviders"), want: 200, ctx: "beta"},
		{name: "create", method: "POST", tenant: "b2c", path: cloudPath("/identityProviders"), want: 201, ctx: "beta", created: "provider",
			body: func(string, string, cloudIDs) any {
				return map[string]any{"name": "Login with LinkedIn", "type": "LinkedIn", "clientId": "linkedin-client", "clientSecret": "linkedin-secret"}
			}},
		{name: "get", method: "GET", tenant: "b2c", path: item, want: 200, ctx: "beta"},
		{name: "get.key", method: "GET", tenant: "b2c", path: func(ids cloudIDs) string { return "/identityProviders('" + ids["provider"] + "')" },
			want: 200, ctx: "beta"},
		{name: "update", method: "PATCH", tenant: "b2c", path: item, want: 204,
			body: func(string, string, cloudIDs) any { return map[string]any{"clientSecret": "deprecated-secret-2"} }},
		{name: "availableProviderTypes", method: "GET", tenant: "b2c", path: cloudPath("/identityProviders/availableProviderTypes"), want: 200},
		{name: "availableProviderTypes.call", method: "GET", tenant: "b2c", path: cloudPath("/identityProviders/availableProviderTypes()"), want: 200},
		{name: "availableProviderTypes.qualified", method: "GET", tenant: "b2c",
			path: cloudPath("/identityProviders/microsoft.graph.availableProviderTypes"), want: 200},
		{name: "put", method: "PUT", tenant: "b2c", path: item, want: 405,
			body: func(string, string, cloudIDs) any { return map[string]any{"clientSecret": "deprecated-secret-3"} }},
		{name: "delete", method: "DELETE", tenant: "b2c", path: item, want: 204},
	}
}

// newCloudFixture starts a server for cloud (and sunset) and creates the
// fixtures through beta.
func newCloudFixture(t *testing.T, o serverOptions) *cloudFixture {
	t.Helper()
	s := newServerWith(t, o)
	return cloudSetup(t, s, s.newTenant(graph.TenantWorkforce, "").ID, true)
}

// cloudSetup creates (create) or only names the fixtures of s's tenants.
func cloudSetup(t *testing.T, s *testServer, workforce string, create bool) *cloudFixture {
	t.Helper()
	f := &cloudFixture{s: s, tenants: map[string]string{"b2c": s.Tenant.ID, "workforce": workforce}}
	f.admins = map[string]string{"b2c": s.adminToken(s.Tenant.ID), "workforce": s.adminToken(workforce)}
	f.noPerm = s.appToken(s.Tenant.ID)
	f.noPermWF = s.appToken(workforce, "User.Read.All")
	f.userNoPermWF = s.userToken(workforce, []string{"openid", "profile"}, nil)
	var err error
	if f.pfx, err = certtest.Valid("cloud", "cloud-pass"); err != nil {
		t.Fatal(err)
	}
	if !create {
		return f
	}
	must := func(req request, want int) map[string]any {
		t.Helper()
		r := s.do(req)
		if r.Status != want {
			t.Fatalf("fixture: %s %s: %d %s", req.Method, req.Path, r.Status, r.Body)
		}
		if len(r.Body) == 0 {
			return nil
		}
		return r.JSON(t)
	}
	for _, key := range []string{"b2c", "workforce"} {
		tok := f.admins[key]
		conn := must(request{Method: "POST", Path: "/beta/identity/apiConnectors", Token: tok, Body: permConnectorBody()}, 201)["id"].(string)
		for _, typ := range []string{"Google", "Facebook"} {
			must(request{Method: "POST", Path: "/beta/identity/identityProviders", Token: tok, Body: map[string]any{
				"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "Login with " + typ, "identityProviderType": typ,
				"clientId": strings.ToLower(typ) + "-client", "clientSecret": strings.ToLower(typ) + "-secret"}}, 201)
		}
		coll, version := "b2cUserFlows", 3
		if key == "workforce" {
			coll, version = "b2xUserFlows", 1
			f.wfConn = conn
		} else {
			f.b2cConn = conn
		}
		must(request{Method: "POST", Path: "/beta/identity/" + coll, Token: tok, Body: map[string]any{
			"id": "CloudFixture", "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": version,
			"apiConnectorConfiguration": map[string]any{"postFederationSignup": map[string]any{"@odata.id": conn}},
			"identityProviders":         []any{map[string]any{"id": "Google-OAUTH"}}}}, 201)
	}
	return f
}

// stepRequest builds the request of step with ids, for root and version.
func (f *cloudFixture) stepRequest(st cloudStep, root, version string, ids cloudIDs, token string) request {
	req := request{Method: st.method, Path: "/" + version + st.path(ids), Token: token}
	if st.body != nil {
		req.Body = st.body(root, version, ids)
	}
	if st.name == "uploadClientCertificate" {
		req.Body = map[string]any{"pkcs12Value": f.pfx.Base64, "password": f.pfx.Password}
	}
	return req
}

// cloudCheckNoSegment asserts Graph's answer for an unknown segment, and that
// nothing was written and no deprecation headers were sent.
func cloudCheckNoSegment(t *testing.T, s *testServer, req request, segment string) {
	t.Helper()
	before := permFullSnapshot(s)
	r := s.do(req)
	if after := permFullSnapshot(s); !maps.Equal(before, after) {
		t.Errorf("%s %s changed the store:\n%s", req.Method, req.Path, permSnapshotDiff(before, after))
	}
	for _, h := range []string{"Deprecation", "Sunset", "Link", "Location", "ETag"} {
		if v := r.Header.Get(h); v != "" {
			t.Errorf("%s %s: 400 for an unknown segment carries %s: %q", req.Method, req.Path, h, v)
		}
	}
	if r.Status != http.StatusBadRequest {
		t.Errorf("%s %s: status %d, want 400 for the unknown segment '%s'; body %s", req.Method, req.Path, r.Status, segment, r.Body)
		return
	}
	checkError(t, r, http.StatusBadRequest, "BadRequest")
	var env struct {
		Error struct{ Message string } `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil {
		t.Fatalf("error body: %v", err)
	}
	if want := "Resource not found for the segment '" + segment + "'."; env.Error.Message != want {
		t.Errorf("%s %s: message %q, want %q", req.Method, req.Path, env.Error.Message, want)
	}
}

// cloudCheckHosts asserts that every @odata.context (at any depth) and
// every @odata.id / nextLink in body, and the Location header, name root and
// version; and that no other cloud's Graph host appears in the response.
func cloudCheckHosts(t *testing.T, r response, root, version string) {
	t.Helper()
	prefix := root + "/" + version + "/"
	if loc := r.Header.Get("Location"); loc != "" && !strings.HasPrefix(loc, prefix) {
		t.Errorf("Location %q does not start with %q", loc, prefix)
	}
	for other, otherRoot := range cloudRoots {
		if otherRoot == root {
			continue
		}
		// "://" keeps graph.microsoft.us from matching dod-graph.microsoft.us.
		host := strings.TrimPrefix(otherRoot, "https:")
		if strings.Contains(string(r.Body), host) {
			t.Errorf("response names the %s cloud's host %s: %s", other, host, r.Body)
		}
		for k, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, host) {
					t.Errorf("header %s names the %s cloud's host %s: %q", k, other, host, v)
				}
			}
		}
	}
	if len(r.Body) == 0 {
		return
	}
	var doc any
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Errorf("body is not JSON: %v: %s", err, r.Body)
		return
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, v := range x {
				if s, ok := v.(string); ok && (strings.HasSuffix(k, "@odata.context") || k == "@odata.nextLink") {
					if !strings.HasPrefix(s, prefix) {
						t.Errorf("%s%s = %q, want a URL under %s", path, k, s, prefix)
					}
					if strings.HasSuffix(k, "@odata.context") && !strings.HasPrefix(s, prefix+"$metadata#") {
						t.Errorf("%s%s = %q, want %s$metadata#...", path, k, s, prefix)
					}
				}
				walk(path+k+".", v)
			}
		case []any:
			for _, v := range x {
				walk(path+"[]", v)
			}
		}
	}
	walk("", doc)
}

// TestCloudAvailability: in every cloud and version, each family's every
// operation either works, naming the cloud's Graph host, or answers 400
// "Resource not found for the segment" for any method and any token (the
// check comes before authorization), writing nothing.
func TestCloudAvailability(t *testing.T) {
	families := cloudFamilies()
	for _, cloud := range cloudAll {
		t.Run(string(cloud), func(t *testing.T) {
			t.Parallel()
			f := newCloudFixture(t, serverOptions{cloud: cloud})
			root := cloudRoots[cloud]
			worked, refused := 0, 0
			for _, version := range []string{"v1.0", "beta"} {
				for _, fam := range families {
					t.Run(version+"/"+fam.name, func(t *testing.T) {
						segment, ok := cloudAvailable(cloud, version, fam.name)
						if ok {
							ids := fam.own(f)
							for _, st := range fam.steps {
								worked++
								deprecated := fam.name == cloudFamDeprecated ||
									(fam.name == cloudFamB2XFlows && strings.HasPrefix(st.name, "identityProviders."))
								t.Run(st.name, func(t *testing.T) { f.runAvailable(t, st, root, version, ids, deprecated) })
							}
							return
						}
						ids := fam.fixture(f)
						for _, st := range fam.steps {
							t.Run(st.name, func(t *testing.T) {
								for _, tok := range []string{f.admins[st.tenant], f.admins["b2c"], f.admins["workforce"],
									f.noPerm, f.noPermWF, f.userNoPermWF} {
									refused++
									cloudCheckNoSegment(t, f.s, f.stepRequest(st, root, version, ids, tok), segment)
								}
							})
						}
					})
				}
			}
			t.Logf("%s: %d requests worked, %d answered the unknown-segment 400", cloud, worked, refused)
		})
	}
}

// runAvailable runs one step where its family exists. Responses of the
// deprecated API and relationship carry the Deprecation header (D5), in
// every cloud; the others do not. (b2cUserFlows' identityProviders: not
// specified either way.)
func (f *cloudFixture) runAvailable(t *testing.T, st cloudStep, root, version string, ids cloudIDs, deprecated bool) {
	t.Helper()
	req := f.stepRequest(st, root, version, ids, f.admins[st.tenant])
	r := f.s.do(req)
	if r.Status != st.want {
		t.Fatalf("%s %s: status %d, want %d; body %s", req.Method, req.Path, r.Status, st.want, r.Body)
	}
	if st.want == http.StatusMethodNotAllowed {
		return
	}
	if got := r.Header.Get("Deprecation"); deprecated && got != "Tue, 24 Aug 2021 00:00:00 GMT" {
		t.Errorf("%s %s: Deprecation = %q on the deprecated API", req.Method, req.Path, got)
	} else if !deprecated && got != "" && !strings.Contains(st.path(ids), "/b2cUserFlows/") {
		t.Errorf("%s %s: Deprecation = %q on an API that is not deprecated", req.Method, req.Path, got)
	}
	cloudCheckHosts(t, r, root, version)
	var body map[string]any
	if len(r.Body) > 0 && r.Status < 300 {
		body = r.JSON(t)
	}
	if st.ctx == "always" || (st.ctx == "beta" && version == "beta") {
		if _, ok := body["@odata.context"].(string); !ok {
			t.Errorf("%s %s: no @odata.context: %s", req.Method, req.Path, r.Body)
		}
	}
	if st.save != "" {
		id, _ := body["id"].(string)
		if id == "" {
			t.Fatalf("%s %s: created entity has no id: %s", req.Method, req.Path, r.Body)
		}
		ids[st.save] = id
	}
	if st.created != "" {
		loc := r.Header.Get("Location")
		want := ids[st.created]
		if id, _ := body["id"].(string); id != want {
			t.Errorf("created id %q, want %q", id, want)
		}
		if !strings.HasPrefix(loc, root+"/"+version+"/") || !strings.Contains(loc, want) {
			t.Errorf("Location %q, want a URL under %s/%s/ naming %s", loc, root, version, want)
		}
	}
}

// TestCloudSunsetSegment: with both the US Government cloud's v1.0 and the
// sunset, the flow's identityProviders path is refused at its first unknown
// segment, b2xUserFlows, as Graph's parser reads left to right.
func TestCloudSunsetSegment(t *testing.T) {
	f := newCloudFixture(t, serverOptions{cloud: graph.CloudUSGov, sunset: true})
	root := cloudRoots[graph.CloudUSGov]
	ids := cloudIDs{"flow": "B2X_1_CloudFixture", "provider": "Facebook-OAUTH", "conn": f.wfConn}
	for _, version := range []string{"v1.0", "beta"} {
		for _, fam := range cloudFamilies() {
			if fam.name != cloudFamB2XFlows && fam.name != cloudFamDeprecated && fam.name != cloudFamProviders && fam.name != cloudFamConnectors {
				continue
			}
			for _, st := range fam.steps {
				t.Run(version+"/"+fam.name+"/"+st.name, func(t *testing.T) {
					segment, ok := cloudAvailable(graph.CloudUSGov, version, fam.name)
					if !ok {
						cloudCheckNoSegment(t, f.s, f.stepRequest(st, root, version, ids, f.admins[st.tenant]), segment)
						return
					}
					if fam.name == cloudFamDeprecated || strings.HasPrefix(st.name, "identityProviders.") {
						cloudCheckNoSegment(t, f.s, f.stepRequest(st, root, version, ids, f.admins[st.tenant]), "identityProviders")
					}
				})
			}
		}
	}
}

// sunsetFixture: objects created through the deprecated API while it
// existed; then the server restarts with the sunset on.
type sunsetFixture struct {
	*cloudFixture
	flow string // the b2x flow, offering Google-OAUTH and calling wfConn
}

func newSunsetFixture(t *testing.T) *sunsetFixture {
	t.Helper()
	dir := t.TempDir()
	s := newServerWith(t, serverOptions{dataDir: dir})
	f := cloudSetup(t, s, s.newTenant(graph.TenantWorkforce, "").ID, true)
	// The deprecated API (available before the sunset) made Amazon in the
	// B2C tenant; the deprecated flow relationship attached Facebook.
	for _, req := range []request{
		{Method: "POST", Path: "/v1.0/identityProviders", Token: f.admins["b2c"], Body: permProviderBody()},
	} {
		if r := s.do(req); r.Status != http.StatusCreated {
			t.Fatalf("fixture: %s %s: %d %s", req.Method, req.Path, r.Status, r.Body)
		}
	}
	if r := s.do(request{Method: "POST", Path: "/v1.0/identity/b2xUserFlows/B2X_1_CloudFixture/identityProviders/$ref",
		Token: f.admins["workforce"], Body: map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/identityProviders/Facebook-OAUTH"}}); r.Status != http.StatusNoContent {
		t.Fatalf("fixture: attach Facebook: %d %s", r.Status, r.Body)
	}
	s.Close()
	s2 := newServerWith(t, serverOptions{dataDir: dir, sunset: true})
	f2 := cloudSetup(t, s2, f.tenants["workforce"], false)
	f2.b2cConn, f2.wfConn = f.b2cConn, f.wfConn
	return &sunsetFixture{cloudFixture: f2, flow: "B2X_1_CloudFixture"}
}

// TestSunsetDeprecatedGone: with the sunset on, every operation of the
// deprecated API and of the b2x flow's identityProviders relationship, in
// both versions, answers Graph's unknown-segment 400 for 'identityProviders'
// with no deprecation headers and writes nothing, whoever asks.
func TestSunsetDeprecatedGone(t *testing.T) {
	f := newSunsetFixture(t)
	root := cloudRoots[graph.CloudGlobal]
	var b2x cloudFamily
	for _, fam := range cloudFamilies() {
		if fam.name == cloudFamB2XFlows {
			b2x = fam
		}
	}
	ids := cloudIDs{"provider": permAmazonID, "flow": f.flow, "conn": f.wfConn}
	for _, version := range []string{"v1.0", "beta"} {
		steps := cloudDeprecatedSteps()
		for _, st := range b2x.steps {
			if strings.HasPrefix(st.name, "identityProviders.") {
				st.name = "b2xUserFlows." + st.name
				steps = append(steps, st)
			}
		}
		steps = append(steps,
			cloudStep{name: "delete.Facebook", method: "DELETE", tenant: "b2c", path: cloudPath("/identityProviders/Facebook-OAUTH")},
			cloudStep{name: "b2xUserFlows.identityProviders.removeRef.Facebook", method: "DELETE", tenant: "workforce",
				path: func(ids cloudIDs) string {
					return "/identity/b2xUserFlows/" + ids["flow"] + "/identityProviders/Facebook-OAUTH/$ref"
				}},
			cloudStep{name: "b2xUserFlows.identityProviders.list.key", method: "GET", tenant: "workforce",
				path: func(ids cloudIDs) string { return "/identity/b2xUserFlows('" + ids["flow"] + "')/identityProviders" }},
		)
		for _, st := range steps {
			t.Run(version+"/"+st.name, func(t *testing.T) {
				for _, tok := range []string{f.admins[st.tenant], f.noPerm, f.noPermWF, f.userNoPermWF} {
					cloudCheckNoSegment(t, f.s, f.stepRequest(st, root, version, ids, tok), "identityProviders")
				}
			})
		}
	}
}

// TestSunsetNewAPIKeepsWorking: with the sunset on, the current API still
// works, sees the objects the deprecated API made, and carries no
// deprecation headers; the flow keeps offering the providers attached
// through the removed relationship.
func TestSunsetNewAPIKeepsWorking(t *testing.T) {
	f := newSunsetFixture(t)
	b2c, wf := f.admins["b2c"], f.admins["workforce"]
	do := func(t *testing.T, req request, want int) response {
		t.Helper()
		r := f.s.do(req)
		if r.Status != want {
			t.Fatalf("%s %s: status %d, want %d; body %s", req.Method, req.Path, r.Status, want, r.Body)
		}
		for _, h := range []string{"Deprecation", "Sunset"} {
			if v := r.Header.Get(h); v != "" {
				t.Errorf("%s %s carries %s: %q", req.Method, req.Path, h, v)
			}
		}
		return r
	}
	ids := func(t *testing.T, r response) []string {
		t.Helper()
		var out []string
		for _, v := range r.JSON(t)["value"].([]any) {
			out = append(out, v.(map[string]any)["id"].(string))
		}
		return out
	}
	amazonName := "Login with Amazon" // as the deprecated API created it
	for _, version := range []string{"v1.0", "beta"} {
		t.Run(version, func(t *testing.T) {
			v := "/" + version
			got := ids(t, do(t, request{Method: "GET", Path: v + "/identity/identityProviders", Token: b2c}, 200))
			for _, id := range []string{permAmazonID, "Google-OAUTH", "Facebook-OAUTH"} {
				if !strings.Contains(strings.Join(got, " "), id) {
					t.Errorf("the current API lists %v, not %s", got, id)
				}
			}
			r := do(t, request{Method: "GET", Path: v + "/identity/identityProviders/" + permAmazonID, Token: b2c}, 200)
			if m := r.JSON(t); m["identityProviderType"] != "Amazon" || m["displayName"] != amazonName || m["clientSecret"] != "******" {
				t.Errorf("Amazon through the current API: %s, want displayName %q", r.Body, amazonName)
			}
			amazonName = "Amazon renamed in " + version
			do(t, request{Method: "PATCH", Path: v + "/identity/identityProviders/" + permAmazonID, Token: b2c,
				Body: map[string]any{"displayName": amazonName}}, 204)
			do(t, request{Method: "GET", Path: v + "/identity/identityProviders/availableProviderTypes", Token: b2c}, 200)
			// The providers the flow offers (attached through the removed
			// relationship) are still in use: deleting one names the flow.
			for _, pid := range []string{"Google-OAUTH", "Facebook-OAUTH"} {
				before := permFullSnapshot(f.s)
				r := do(t, request{Method: "DELETE", Path: v + "/identity/identityProviders/" + pid, Token: wf}, 400)
				checkError(t, r, 400, "Request_BadRequest")
				if !strings.Contains(string(r.Body), f.flow) {
					t.Errorf("deleting %s, which the flow offers: the message does not name %s: %s", pid, f.flow, r.Body)
				}
				if after := permFullSnapshot(f.s); !maps.Equal(before, after) {
					t.Errorf("refused delete changed the store:\n%s", permSnapshotDiff(before, after))
				}
			}
			// Flows and their connectors keep working.
			do(t, request{Method: "GET", Path: v + "/identity/b2xUserFlows/" + f.flow, Token: wf}, 200)
			r = do(t, request{Method: "GET", Path: v + "/identity/b2xUserFlows/" + f.flow + "/apiConnectorConfiguration?$expand=postFederationSignup",
				Token: wf}, 200)
			if c, _ := r.JSON(t)["postFederationSignup"].(map[string]any); c == nil || c["id"] != f.wfConn {
				t.Errorf("the flow's connector configuration: %s", r.Body)
			}
			// A new provider through the current API, and its removal.
			do(t, request{Method: "POST", Path: v + "/identity/identityProviders", Token: b2c, Body: map[string]any{
				"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "GitHub", "identityProviderType": "GitHub",
				"clientId": "github-client", "clientSecret": "github-secret"}}, 201)
			do(t, request{Method: "DELETE", Path: v + "/identity/identityProviders/GitHub-OAUTH", Token: b2c}, 204)
		})
	}
}

// TestSunsetOffDeprecatedWorks: without the sunset the deprecated API and
// the flow's identityProviders relationship work, in both versions, and
// every response of theirs carries the deprecation headers (D5); the current
// API's responses do not.
func TestSunsetOffDeprecatedWorks(t *testing.T) {
	f := newCloudFixture(t, serverOptions{})
	root := cloudRoots[graph.CloudGlobal]
	checkHeaders := func(t *testing.T, r response, req request) {
		t.Helper()
		if got := r.Header.Get("Deprecation"); got != "Tue, 24 Aug 2021 00:00:00 GMT" {
			t.Errorf("%s %s (%d): Deprecation = %q", req.Method, req.Path, r.Status, got)
		}
		if got := r.Header.Get("Sunset"); got != "Wed, 15 Mar 2023 00:00:00 GMT" {
			t.Errorf("%s %s (%d): Sunset = %q", req.Method, req.Path, r.Status, got)
		}
		if got := r.Header.Get("Link"); !strings.Contains(got, `rel="deprecation"`) || !strings.HasPrefix(got, "<https://") {
			t.Errorf("%s %s (%d): Link = %q, want <https://...>; rel=\"deprecation\"", req.Method, req.Path, r.Status, got)
		}
	}
	var b2x cloudFamily
	for _, fam := range cloudFamilies() {
		if fam.name == cloudFamB2XFlows {
			b2x = fam
		}
	}
	for _, version := range []string{"v1.0", "beta"} {
		t.Run(version, func(t *testing.T) {
			ids := cloudIDs{"provider": "LinkedIn-OAUTH"}
			for _, st := range cloudDeprecatedSteps() {
				req := f.stepRequest(st, root, version, ids, f.admins[st.tenant])
				r := f.s.do(req)
				if r.Status != st.want {
					t.Errorf("%s %s: status %d, want %d; body %s", req.Method, req.Path, r.Status, st.want, r.Body)
					continue
				}
				if st.want != http.StatusMethodNotAllowed {
					checkHeaders(t, r, req)
				}
			}
			// The flow's identityProviders relationship (its own flow).
			flowIDs := cloudIDs{"flow": "B2X_1_CloudNew", "conn": f.wfConn}
			for _, st := range b2x.steps {
				req := f.stepRequest(st, root, version, flowIDs, f.admins[st.tenant])
				r := f.s.do(req)
				if r.Status != st.want {
					t.Fatalf("%s %s: status %d, want %d; body %s", req.Method, req.Path, r.Status, st.want, r.Body)
				}
				switch {
				case st.want == http.StatusMethodNotAllowed:
				case strings.HasPrefix(st.name, "identityProviders."):
					checkHeaders(t, r, req)
				default:
					if v := r.Header.Get("Deprecation"); v != "" {
						t.Errorf("%s %s (not deprecated) carries Deprecation: %q", req.Method, req.Path, v)
					}
				}
			}
			// Errors of the deprecated API are its responses too.
			for _, c := range []struct {
				req  request
				want int
			}{
				{request{Method: "GET", Path: "/" + version + "/identityProviders/Twitter-OAUTH", Token: f.admins["b2c"]}, 404},
				{request{Method: "GET", Path: "/" + version + "/identityProviders", Token: f.noPerm}, 403},
				{request{Method: "DELETE", Path: "/" + version + "/identityProviders/Google-OAUTH", Token: f.noPerm}, 403},
				{request{Method: "GET", Path: "/" + version + "/identity/b2xUserFlows/B2X_1_CloudFixture/identityProviders", Token: f.noPermWF}, 403},
			} {
				r := f.s.do(c.req)
				if r.Status != c.want {
					t.Errorf("%s %s: status %d, want %d; body %s", c.req.Method, c.req.Path, r.Status, c.want, r.Body)
					continue
				}
				checkHeaders(t, r, c.req)
			}
			// The current API is not deprecated.
			for _, path := range []string{"/identity/identityProviders", "/identity/identityProviders/Google-OAUTH", "/identity/apiConnectors",
				"/identity/identityProviders/availableProviderTypes"} {
				r := f.s.do(request{Method: "GET", Path: "/" + version + path, Token: f.admins["b2c"]})
				if r.Status != 200 {
					t.Errorf("GET %s: %d %s", path, r.Status, r.Body)
				}
				for _, h := range []string{"Deprecation", "Sunset"} {
					if v := r.Header.Get(h); v != "" {
						t.Errorf("GET %s carries %s: %q", path, h, v)
					}
				}
			}
		})
	}
}

// TestCloudUnknownSegmentBelowRoutes: a path under a segment the cloud's
// version (or the sunset) removed is refused at that segment, as Graph's
// parser reads left to right, even where what follows is no route of the
// slice (which elsewhere answers 501).
func TestCloudUnknownSegmentBelowRoutes(t *testing.T) {
	for _, c := range []struct {
		o       serverOptions
		path    string
		segment string
	}{
		{serverOptions{cloud: graph.CloudUSGov}, "/v1.0/identity/apiConnectors/{conn}/certificateList", "apiConnectors"},
		{serverOptions{cloud: graph.CloudUSGovDoD}, "/v1.0/identity/identityProviders/Facebook-OAUTH/displayName", "identityProviders"},
		{serverOptions{cloud: graph.CloudUSGov}, "/v1.0/identity/b2xUserFlows/B2X_1_CloudFixture/languages", "b2xUserFlows"},
		{serverOptions{}, "/v1.0/identity/b2cUserFlows/B2C_1_CloudFixture/userFlowIdentityProviders", "b2cUserFlows"},
		{serverOptions{sunset: true}, "/v1.0/identityProviders/Facebook-OAUTH/clientId", "identityProviders"},
		{serverOptions{sunset: true}, "/beta/identity/b2xUserFlows/B2X_1_CloudFixture/identityProviders/Google-OAUTH", "identityProviders"},
	} {
		cloud := c.o.cloud
		if cloud == "" {
			cloud = graph.CloudGlobal
		}
		t.Run(fmt.Sprintf("%s/sunset=%v%s", cloud, c.o.sunset, c.path), func(t *testing.T) {
			t.Parallel()
			f := newCloudFixture(t, c.o)
			path := strings.ReplaceAll(c.path, "{conn}", f.b2cConn)
			for _, tok := range []string{f.admins["b2c"], f.admins["workforce"], f.noPerm} {
				cloudCheckNoSegment(t, f.s, request{Method: "GET", Path: path, Token: tok}, c.segment)
			}
		})
	}
}
