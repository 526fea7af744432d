package httpapi_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/idgraph/idgraph/internal/certinfo/certtest"
	"github.com/idgraph/idgraph/internal/directory"
	"github.com/idgraph/idgraph/internal/graph"
)

// The permission matrix is checked against an oracle written here from the
// spec (decisions D1, D2; §2.1, §2.4, §5). It deliberately spells every
// permission, role and action out again instead of reading the auth
// package, so a wrong table there cannot make its own test pass.

// Permission names (spec §5.2) and one permission from outside the slice.
const (
	permAPIConnectorsRead        = "APIConnectors.Read.All"
	permAPIConnectorsReadWrite   = "APIConnectors.ReadWrite.All"
	permIdentityProviderRead     = "IdentityProvider.Read.All"
	permIdentityProviderWrite    = "IdentityProvider.ReadWrite.All"
	permIdentityUserFlowRead     = "IdentityUserFlow.Read.All"
	permIdentityUserFlowWrite    = "IdentityUserFlow.ReadWrite.All"
	permUnrelated                = "User.Read.All"
	permWidGlobalAdmin           = "62e90394-69f5-4237-9190-012177145e10"
	permWidIdentityProviderAdmin = "be2f45a1-457d-42af-a067-6ec1fa63bc45"
	permWidUserFlowAdmin         = "6e591065-9bad-43ed-90f3-e9424366d2f0"
	permWidDirectoryReaders      = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
	permActIdentityProviders     = "microsoft.directory/identityProviders/allProperties/allTasks"
	permActB2CUserFlow           = "microsoft.directory/b2cUserFlow/allProperties/allTasks"
	permPersonalTenant           = "9188040d-6c67-4c5b-b112-36a304b66dad"

	// Custom roles the matrix adds to its tenant.
	permCustomIdPRole      = "0b5c7f54-4a5e-4c1b-9b3e-5d1a2a6f0c01"
	permCustomUserFlowRole = "0b5c7f54-4a5e-4c1b-9b3e-5d1a2a6f0c02"

	permAmazonID = "Amazon-OAUTH"
	permGoogleID = "Google-OAUTH" // in both tenants: the provider the matrix's user flows offer or not

	// The tenants of the matrix: the server's default (b2c) and a workforce
	// tenant for b2xUserFlows, with the same custom roles.
	permB2C       = ""
	permWorkforce = "workforce"
)

// permCustomRoleActions is what the test's custom roles grant, as the oracle sees it.
var permCustomRoleActions = map[string][]string{
	permCustomIdPRole:      {permActIdentityProviders},
	permCustomUserFlowRole: {permActB2CUserFlow},
}

// permOp is one operation of the slice.
type permOp struct {
	name     string // as in the t.Run name
	resource string // "apiConnectors", "identityProviders" or "userFlows"
	// write: the operation needs the ReadWrite permission. For user flows
	// that includes reading the API-connector configuration and the flow's
	// identity providers (§2.2, §2.5: no Read.All is listed for them).
	write  bool
	method string
	path   func(id string) string // relative to the version root
	// fixture: "", "connector", "provider" (Amazon exists), "noProvider"
	// (Amazon absent), "flow" (the matrix's flow exists and calls its
	// tenant's flow connector at postFederationSignup), "flowIdP" (... and
	// offers Google-OAUTH), "flowNoIdP" (... and does not), "noFlow" (the
	// flow does not exist).
	fixture  string
	flows    string // user flows: the collection, "b2xUserFlows" or "b2cUserFlows"
	tenant   string // permB2C or permWorkforce: the tenant the caller belongs to
	betaOnly bool   // the operation exists in beta only
	body     func(e *permEnv) any
}

var permOps = slices.Concat([]permOp{
	{name: "apiConnectors.list", resource: "apiConnectors", method: "GET",
		path: func(string) string { return "/identity/apiConnectors" }},
	{name: "apiConnectors.create", resource: "apiConnectors", write: true, method: "POST",
		path: func(string) string { return "/identity/apiConnectors" }, body: func(*permEnv) any { return permConnectorBody() }},
	{name: "apiConnectors.get", resource: "apiConnectors", method: "GET", fixture: "connector",
		path: func(id string) string { return "/identity/apiConnectors/" + id }},
	{name: "apiConnectors.update", resource: "apiConnectors", write: true, method: "PATCH", fixture: "connector",
		path: func(id string) string { return "/identity/apiConnectors/" + id },
		body: func(*permEnv) any { return map[string]any{"displayName": "Renamed by the permission matrix"} }},
	{name: "apiConnectors.delete", resource: "apiConnectors", write: true, method: "DELETE", fixture: "connector",
		path: func(id string) string { return "/identity/apiConnectors/" + id }},
	{name: "apiConnectors.uploadClientCertificate", resource: "apiConnectors", write: true, method: "POST", fixture: "connector",
		path: func(id string) string { return "/identity/apiConnectors/" + id + "/uploadClientCertificate" },
		body: func(e *permEnv) any { return map[string]any{"pkcs12Value": e.pfx.Base64, "password": e.pfx.Password} }},

	{name: "identityProviders.list", resource: "identityProviders", method: "GET",
		path: func(string) string { return "/identityProviders" }},
	{name: "identityProviders.create", resource: "identityProviders", write: true, method: "POST", fixture: "noProvider",
		path: func(string) string { return "/identityProviders" }, body: func(*permEnv) any { return permProviderBody() }},
	{name: "identityProviders.get", resource: "identityProviders", method: "GET", fixture: "provider",
		path: func(id string) string { return "/identityProviders/" + id }},
	{name: "identityProviders.update", resource: "identityProviders", write: true, method: "PATCH", fixture: "provider",
		path: func(id string) string { return "/identityProviders/" + id },
		body: func(*permEnv) any { return map[string]any{"clientSecret": "1111111111111"} }},
	{name: "identityProviders.delete", resource: "identityProviders", write: true, method: "DELETE", fixture: "provider",
		path: func(id string) string { return "/identityProviders/" + id }},
	{name: "identityProviders.availableProviderTypes", resource: "identityProviders", method: "GET",
		path: func(string) string { return "/identityProviders/availableProviderTypes" }},

	// The current identity-provider API: the same stored objects as the
	// deprecated one, the same rules (§2.3).
	{name: "identity.identityProviders.list", resource: "identityProviders", method: "GET",
		path: func(string) string { return "/identity/identityProviders" }},
	{name: "identity.identityProviders.create", resource: "identityProviders", write: true, method: "POST", fixture: "noProvider",
		path: func(string) string { return "/identity/identityProviders" }, body: func(*permEnv) any { return permNewProviderBody() }},
	{name: "identity.identityProviders.get", resource: "identityProviders", method: "GET", fixture: "provider",
		path: func(id string) string { return "/identity/identityProviders/" + id }},
	{name: "identity.identityProviders.update", resource: "identityProviders", write: true, method: "PATCH", fixture: "provider",
		path: func(id string) string { return "/identity/identityProviders/" + id },
		body: func(*permEnv) any {
			return map[string]any{"@odata.type": "#microsoft.graph.socialIdentityProvider", "clientSecret": "2222222222222"}
		}},
	{name: "identity.identityProviders.delete", resource: "identityProviders", write: true, method: "DELETE", fixture: "provider",
		path: func(id string) string { return "/identity/identityProviders/" + id }},
	{name: "identity.identityProviders.availableProviderTypes", resource: "identityProviders", method: "GET",
		path: func(string) string { return "/identity/identityProviders/availableProviderTypes" }},
},
	// User flows (§2.2, §2.5, D2): b2xUserFlows in a workforce tenant, in
	// both versions; b2cUserFlows in the B2C tenant, beta only.
	permFlowOps("b2xUserFlows", permWorkforce, false),
	permFlowOps("b2cUserFlows", permB2C, true),
)

// permFlowOps are the operations of one user-flow collection.
func permFlowOps(coll, tenant string, betaOnly bool) []permOp {
	base := "/identity/" + coll
	op := func(name string, write bool, method, fixture string, path func(id string) string, body func(e *permEnv) any) permOp {
		return permOp{name: coll + "." + name, resource: "userFlows", write: write, method: method, path: path, fixture: fixture,
			flows: coll, tenant: tenant, betaOnly: betaOnly, body: body}
	}
	return []permOp{
		op("list", false, "GET", "", func(string) string { return base }, nil),
		op("create", true, "POST", "noFlow", func(string) string { return base },
			func(e *permEnv) any { return e.flowBody(coll, tenant) }),
		op("get", false, "GET", "flow", func(id string) string { return base + "/" + id }, nil),
		op("delete", true, "DELETE", "flow", func(id string) string { return base + "/" + id }, nil),
		op("apiConnectorConfiguration.get", true, "GET", "flow",
			func(id string) string {
				return base + "/" + id + "/apiConnectorConfiguration?$expand=postFederationSignup"
			}, nil),
		op("apiConnectorConfiguration.step.get", true, "GET", "flow",
			func(id string) string { return base + "/" + id + "/apiConnectorConfiguration/postFederationSignup" }, nil),
		op("apiConnectorConfiguration.putRef", true, "PUT", "flow",
			func(id string) string {
				return base + "/" + id + "/apiConnectorConfiguration/postFederationSignup/$ref"
			},
			func(e *permEnv) any {
				return map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/identity/apiConnectors/" + e.flowConn[tenant]}
			}),
		op("identityProviders.list", true, "GET", "flowIdP", func(id string) string { return base + "/" + id + "/identityProviders" }, nil),
		op("identityProviders.addRef", true, "POST", "flowNoIdP",
			func(id string) string { return base + "/" + id + "/identityProviders/$ref" },
			func(*permEnv) any {
				return map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/identityProviders/" + permGoogleID}
			}),
		op("identityProviders.removeRef", true, "DELETE", "flowIdP",
			func(id string) string { return base + "/" + id + "/identityProviders/" + permGoogleID + "/$ref" }, nil),
	}
}

// permFlowName is the name of the matrix's user flow (without the prefix).
const permFlowName = "PermissionMatrix"

// permFlowID is the id of the matrix's flow in a collection.
func permFlowID(coll string) string {
	if coll == "b2cUserFlows" {
		return "B2C_1_" + permFlowName
	}
	return "B2X_1_" + permFlowName
}

// flowBody creates the matrix's flow; it calls the tenant's flow connector
// after federation.
func (e *permEnv) flowBody(coll, tenant string) map[string]any {
	version := 1
	if coll == "b2cUserFlows" {
		version = 3
	}
	return map[string]any{"id": permFlowName, "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": version,
		"apiConnectorConfiguration": map[string]any{
			"postFederationSignup": map[string]any{"@odata.id": "https://graph.microsoft.com/beta/identity/apiConnectors/" + e.flowConn[tenant]}}}
}

func permNewProviderBody() map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "Login with Amazon",
		"identityProviderType": "Amazon", "clientId": "56433757-cadd-4135-8431-2c9e3fd68ae8", "clientSecret": "000000000000"}
}

func permConnectorBody() map[string]any {
	return map[string]any{
		"displayName": "Permission matrix connector",
		"targetUrl":   "https://api.example.com/validate",
		"authenticationConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.basicAuthentication", "username": "matrix", "password": "s3cret-Pa55"},
	}
}

func permProviderBody() map[string]any {
	return map[string]any{"name": "Login with Amazon", "type": "Amazon",
		"clientId": "56433757-cadd-4135-8431-2c9e3fd68ae8", "clientSecret": "000000000000"}
}

// permSuccessStatus is the status an allowed call answers with (spec §2.1, §2.4, D1).
func permSuccessStatus(profile graph.Profile, op permOp) int {
	name := op.name
	if op.resource == "userFlows" {
		name = strings.TrimPrefix(name, op.flows+".")
	}
	switch name {
	case "apiConnectors.create", "identityProviders.create", "identity.identityProviders.create", "create":
		return http.StatusCreated
	case "apiConnectors.update":
		if profile == graph.ProfileClassic {
			return http.StatusOK
		}
		return http.StatusNoContent
	case "identityProviders.update", "apiConnectors.delete", "identityProviders.delete",
		"identity.identityProviders.update", "identity.identityProviders.delete",
		"delete", "apiConnectorConfiguration.putRef", "identityProviders.addRef", "identityProviders.removeRef":
		return http.StatusNoContent
	}
	return http.StatusOK // list, get, uploadClientCertificate, availableProviderTypes, apiConnectorConfiguration
}

// permPrincipal is one kind of caller.
type permPrincipal struct {
	name      string
	personal  bool // tid is the personal-accounts tenant
	delegated bool
	perms     []string // roles (app) or scp (delegated)
	wids      []string
}

// permOracle decides from the spec's rules whether p may run op under profile.
func permOracle(profile graph.Profile, op permOp, p permPrincipal) bool {
	if p.personal {
		return false // D2: personal Microsoft accounts are refused for every operation
	}
	var perms, roles []string
	var action string
	switch op.resource {
	case "apiConnectors":
		// §2.1 / D1 current: APIConnectors.ReadWrite.All for every operation, reads too.
		perms = []string{permAPIConnectorsReadWrite}
		if profile == graph.ProfileClassic {
			// D1 classic: the classic revision's IdentityUserFlow permissions too;
			// Read.All only where that revision listed it (the update).
			perms = append(perms, permIdentityUserFlowWrite)
			if op.name == "apiConnectors.update" {
				perms = append(perms, permIdentityUserFlowRead)
			}
		}
		roles = []string{permWidGlobalAdmin, permWidUserFlowAdmin}
		action = permActB2CUserFlow
	case "identityProviders":
		// §2.4: reads accept Read.All or ReadWrite.All; writes ReadWrite.All.
		// D2: writes GA or EIPA; reads also External ID User Flow Administrator.
		if op.write {
			perms = []string{permIdentityProviderWrite}
			roles = []string{permWidGlobalAdmin, permWidIdentityProviderAdmin}
		} else {
			perms = []string{permIdentityProviderRead, permIdentityProviderWrite}
			roles = []string{permWidGlobalAdmin, permWidIdentityProviderAdmin, permWidUserFlowAdmin}
		}
		action = permActIdentityProviders
	case "userFlows":
		// §2.2, §2.5: a flow's API-connector configuration and identity
		// providers need IdentityUserFlow.ReadWrite.All even to read; listing
		// and reading flows also accept IdentityUserFlow.Read.All. Creating
		// and deleting flows need ReadWrite.All. D2: GA or External ID User
		// Flow Administrator, or a custom role with the b2cUserFlow action.
		// The same in both profiles (D1 changes API connectors only).
		if op.write {
			perms = []string{permIdentityUserFlowWrite}
		} else {
			perms = []string{permIdentityUserFlowRead, permIdentityUserFlowWrite}
		}
		roles = []string{permWidGlobalAdmin, permWidUserFlowAdmin}
		action = permActB2CUserFlow
	default:
		panic("unknown resource " + op.resource)
	}
	hasPerm := false
	for _, x := range p.perms {
		hasPerm = hasPerm || slices.Contains(perms, x)
	}
	if !hasPerm {
		return false
	}
	if !p.delegated {
		return true
	}
	for _, w := range p.wids {
		if slices.Contains(roles, w) || slices.Contains(permCustomRoleActions[w], action) {
			return true
		}
	}
	return false
}

// permPrincipals is every caller of the matrix.
func permPrincipals() []permPrincipal {
	type variant struct {
		name  string
		perms []string
	}
	permVariants := []variant{
		{"none", nil},
		{permAPIConnectorsRead, []string{permAPIConnectorsRead}},
		{permIdentityProviderRead, []string{permIdentityProviderRead}},
		{permIdentityUserFlowRead, []string{permIdentityUserFlowRead}},
		{permAPIConnectorsReadWrite, []string{permAPIConnectorsReadWrite}},
		{permIdentityProviderWrite, []string{permIdentityProviderWrite}},
		{permIdentityUserFlowWrite, []string{permIdentityUserFlowWrite}},
		{permUnrelated, []string{permUnrelated}},
	}
	widVariants := []variant{
		{"none", nil},
		{"GlobalAdministrator", []string{permWidGlobalAdmin}},
		{"ExternalIdentityProviderAdministrator", []string{permWidIdentityProviderAdmin}},
		{"ExternalIDUserFlowAdministrator", []string{permWidUserFlowAdmin}},
		{"DirectoryReaders", []string{permWidDirectoryReaders}},
		{"custom.identityProviders", []string{permCustomIdPRole}},
		{"custom.b2cUserFlow", []string{permCustomUserFlowRole}},
		{"DirectoryReaders+custom.b2cUserFlow", []string{permWidDirectoryReaders, permCustomUserFlowRole}},
	}
	var out []permPrincipal
	for _, v := range permVariants {
		out = append(out, permPrincipal{name: "app/roles=" + v.name, perms: v.perms})
	}
	for _, v := range permVariants {
		scopes := v.perms
		if scopes == nil {
			// A delegated token always carries some scope; "none" means no
			// Graph permission at all, only the OpenID Connect scopes.
			scopes = []string{"openid", "profile"}
		}
		for _, w := range widVariants {
			out = append(out, permPrincipal{name: "delegated/scp=" + v.name + "/wids=" + w.name,
				delegated: true, perms: scopes, wids: w.perms})
		}
	}
	allWrite := []string{permAPIConnectorsReadWrite, permIdentityProviderWrite, permIdentityUserFlowWrite}
	out = append(out,
		permPrincipal{name: "personal/app/roles=ReadWrite", personal: true, perms: allWrite},
		permPrincipal{name: "personal/delegated/scp=ReadWrite/wids=GlobalAdministrator", personal: true, delegated: true,
			perms: allWrite, wids: []string{permWidGlobalAdmin}},
	)
	return out
}

// permEnv is one server of the matrix and the fixtures in its tenants.
type permEnv struct {
	t         *testing.T
	s         *testServer
	profile   graph.Profile
	tenant    string            // the B2C tenant (the server's default)
	admin     string            // may do everything in the B2C tenant
	tenants   map[string]string // permB2C, permWorkforce → tenant id
	admins    map[string]string // permB2C, permWorkforce → admin token
	pfx       certtest.PFX
	tokens    map[string]map[string]string // tenant key → principal name → token
	shared    string                       // a connector denied cells point at
	amazon    bool                         // the B2C tenant has Amazon-OAUTH
	connCount int
	flowConn  map[string]string         // tenant key → the connector the matrix's flows call
	flows     map[string]*permFlowState // collection → the matrix's flow
	// snap is the store as the last denied cell left it; nil once a fixture
	// or an allowed cell may have written since.
	snap map[string]string
}

// fixture sends a request of the matrix's own (fixtures, resync).
func (e *permEnv) fixture(req request) response {
	e.snap = nil
	return e.s.do(req)
}

// permFlowState is what the matrix knows of its flow in one collection.
type permFlowState struct {
	exists bool
	google bool // the flow offers Google-OAUTH
}

func newPermEnv(t *testing.T, profile graph.Profile, principals []permPrincipal) *permEnv {
	s := newServerWith(t, serverOptions{profile: profile})
	e := &permEnv{t: t, s: s, profile: profile, tenant: s.Tenant.ID, admin: s.adminToken(s.Tenant.ID),
		tenants: map[string]string{permB2C: s.Tenant.ID}, tokens: map[string]map[string]string{},
		flowConn: map[string]string{}, flows: map[string]*permFlowState{"b2xUserFlows": {}, "b2cUserFlows": {}}}
	e.tenants[permWorkforce] = s.newTenant(graph.TenantWorkforce, "").ID
	e.admins = map[string]string{permB2C: e.admin, permWorkforce: s.adminToken(e.tenants[permWorkforce])}
	var err error
	if e.pfx, err = certtest.Valid("permission-matrix", "pfx-pass"); err != nil {
		t.Fatal(err)
	}
	for key, tenant := range e.tenants {
		if _, err := s.Dir.UpdateTenant(context.Background(), tenant, func(tn *graph.Tenant) error {
			tn.CustomRoles = append(tn.CustomRoles,
				graph.CustomRole{ID: permCustomIdPRole, DisplayName: "Custom identity provider admin", Permissions: []string{permActIdentityProviders}},
				graph.CustomRole{ID: permCustomUserFlowRole, DisplayName: "Custom user flow admin", Permissions: []string{permActB2CUserFlow}})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.tokens[key] = map[string]string{}
		for _, p := range principals {
			o := directory.MintOptions{Tenant: tenant, WIDs: p.wids}
			if p.personal {
				o.Tenant = permPersonalTenant
			}
			if p.delegated {
				o.Scopes = p.perms
			} else {
				o.Roles = p.perms
			}
			e.tokens[key][p.name] = s.mint(o)
		}
		// Google-OAUTH, which the flows offer or not, and the connector
		// they call: neither is touched by any cell.
		r := s.do(request{Method: "POST", Path: "/v1.0/identityProviders", Token: e.admins[key],
			Body: map[string]any{"name": "Login with Google", "type": "Google",
				"clientId": "93c6b33f-8fb4-4ab2-a9a8-9a6ddd5b0c3a", "clientSecret": "google-secret-0000"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("fixture: create Google-OAUTH in %s tenant: %d %s", key, r.Status, r.Body)
		}
		r = s.do(request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: e.admins[key], Body: permConnectorBody()})
		if r.Status != http.StatusCreated {
			t.Fatalf("fixture: create flow connector in %s tenant: %d %s", key, r.Status, r.Body)
		}
		e.flowConn[key] = r.JSON(t)["id"].(string)
	}
	e.shared = e.newConnector(t)
	return e
}

// newConnector creates a connector with the admin token.
func (e *permEnv) newConnector(t *testing.T) string {
	t.Helper()
	r := e.fixture(request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: e.admin, Body: permConnectorBody()})
	if r.Status != http.StatusCreated {
		t.Fatalf("fixture: create connector: %d %s", r.Status, r.Body)
	}
	e.connCount++
	return r.JSON(t)["id"].(string)
}

// setAmazon makes Amazon-OAUTH exist (or not) in the tenant.
func (e *permEnv) setAmazon(t *testing.T, want bool) {
	t.Helper()
	if e.amazon == want {
		return
	}
	if want {
		r := e.fixture(request{Method: "POST", Path: "/v1.0/identityProviders", Token: e.admin, Body: permProviderBody()})
		if r.Status != http.StatusCreated {
			t.Fatalf("fixture: create provider: %d %s", r.Status, r.Body)
		}
	} else {
		r := e.fixture(request{Method: "DELETE", Path: "/v1.0/identityProviders/" + permAmazonID, Token: e.admin})
		if r.Status != http.StatusNoContent {
			t.Fatalf("fixture: delete provider: %d %s", r.Status, r.Body)
		}
	}
	e.amazon = want
}

// permFlowTenant is the tenant key of a flow collection.
func permFlowTenant(coll string) string {
	if coll == "b2xUserFlows" {
		return permWorkforce
	}
	return permB2C
}

// setFlow makes the matrix's flow in coll exist (or not). A new flow offers
// no identity provider.
func (e *permEnv) setFlow(t *testing.T, coll string, want bool) {
	t.Helper()
	st := e.flows[coll]
	if st.exists == want {
		return
	}
	key := permFlowTenant(coll)
	base := "/beta/identity/" + coll
	if want {
		r := e.fixture(request{Method: "POST", Path: base, Token: e.admins[key], Body: e.flowBody(coll, key)})
		if r.Status != http.StatusCreated {
			t.Fatalf("fixture: create %s flow: %d %s", coll, r.Status, r.Body)
		}
	} else {
		r := e.fixture(request{Method: "DELETE", Path: base + "/" + permFlowID(coll), Token: e.admins[key]})
		if r.Status != http.StatusNoContent {
			t.Fatalf("fixture: delete %s flow: %d %s", coll, r.Status, r.Body)
		}
	}
	st.exists, st.google = want, false
}

// setFlowGoogle makes the matrix's flow in coll exist and offer
// Google-OAUTH (or not).
func (e *permEnv) setFlowGoogle(t *testing.T, coll string, want bool) {
	t.Helper()
	e.setFlow(t, coll, true)
	st := e.flows[coll]
	if st.google == want {
		return
	}
	key := permFlowTenant(coll)
	base := "/beta/identity/" + coll + "/" + permFlowID(coll) + "/identityProviders"
	if want {
		r := e.fixture(request{Method: "POST", Path: base + "/$ref", Token: e.admins[key],
			Body: map[string]any{"@odata.id": "https://graph.microsoft.com/beta/identityProviders/" + permGoogleID}})
		if r.Status != http.StatusNoContent {
			t.Fatalf("fixture: add Google-OAUTH to the %s flow: %d %s", coll, r.Status, r.Body)
		}
	} else {
		r := e.fixture(request{Method: "DELETE", Path: base + "/" + permGoogleID + "/$ref", Token: e.admins[key]})
		if r.Status != http.StatusNoContent {
			t.Fatalf("fixture: remove Google-OAUTH from the %s flow: %d %s", coll, r.Status, r.Body)
		}
	}
	st.google = want
}

// resync relearns the fixtures' state after a call did what it should not have.
func (e *permEnv) resync(t *testing.T) {
	t.Helper()
	r := e.fixture(request{Method: "GET", Path: "/v1.0/identityProviders/" + permAmazonID, Token: e.admin})
	e.amazon = r.Status == http.StatusOK
	r = e.fixture(request{Method: "GET", Path: "/v1.0/identity/apiConnectors/" + e.shared, Token: e.admin})
	if r.Status != http.StatusOK {
		e.shared = e.newConnector(t)
	}
	for coll, st := range e.flows {
		key := permFlowTenant(coll)
		base := "/beta/identity/" + coll + "/" + permFlowID(coll)
		r := e.fixture(request{Method: "GET", Path: base, Token: e.admins[key]})
		st.exists, st.google = r.Status == http.StatusOK, false
		if !st.exists {
			continue
		}
		r = e.fixture(request{Method: "GET", Path: base + "/identityProviders", Token: e.admins[key]})
		st.google = strings.Contains(string(r.Body), `"`+permGoogleID+`"`)
		// A call that should have failed may have detached the connector.
		r = e.fixture(request{Method: "PUT", Path: base + "/apiConnectorConfiguration/postFederationSignup/$ref", Token: e.admins[key],
			Body: map[string]any{"@odata.id": e.flowConn[key]}})
		if r.Status != http.StatusNoContent {
			t.Errorf("resync: reattach the %s flow's connector: %d %s", coll, r.Status, r.Body)
		}
	}
}

// permFullSnapshot returns every row of every table of the server's
// database, keyed by table and the row's short columns: equal snapshots mean
// nothing at all was written. It reads the database file directly (one
// query per table), which is both stricter and much cheaper than reading
// each collection of each tenant through the store.
func permFullSnapshot(s *testServer) map[string]string {
	s.t.Helper()
	sdb := permSnapshotDB(s)
	ctx := context.Background()
	tx, err := sdb.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		s.t.Fatal(err)
	}
	defer tx.Rollback()
	out := map[string]string{}
	for i, table := range sdb.tables {
		rows, err := tx.StmtContext(ctx, sdb.stmts[i]).QueryContext(ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		cols, err := rows.Columns()
		if err != nil {
			s.t.Fatal(err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				s.t.Fatal(err)
			}
			key, full := []string{table}, make([]string, len(cols))
			for i, v := range vals {
				switch x := v.(type) {
				case []byte:
					full[i] = string(x)
				case string:
					full[i] = x
				default:
					full[i] = fmt.Sprint(x)
				}
				if len(full[i]) <= 64 {
					key = append(key, cols[i]+"="+full[i])
				}
			}
			out[strings.Join(key, " ")] = strings.Join(full, "|")
		}
		if err := rows.Close(); err != nil {
			s.t.Fatal(err)
		}
	}
	return out
}

// permSnapshotConn is a connection pool of the test's own on a server's
// database file, with a prepared SELECT for each table. The schema is the
// migrations' and does not change while the server runs.
type permSnapshotConn struct {
	db     *sql.DB
	tables []string
	stmts  []*sql.Stmt
}

var (
	permSnapshotMu  sync.Mutex
	permSnapshotDBs = map[*testServer]*permSnapshotConn{}
)

func permSnapshotDB(s *testServer) *permSnapshotConn {
	s.t.Helper()
	permSnapshotMu.Lock()
	defer permSnapshotMu.Unlock()
	if c := permSnapshotDBs[s]; c != nil {
		return c
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: s.Store.Path()}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		s.t.Fatal(err)
	}
	c := &permSnapshotConn{db: db}
	s.t.Cleanup(func() {
		permSnapshotMu.Lock()
		delete(permSnapshotDBs, s)
		permSnapshotMu.Unlock()
		db.Close()
	})
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
	if err != nil {
		s.t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			s.t.Fatal(err)
		}
		c.tables = append(c.tables, name)
	}
	if err := rows.Close(); err != nil {
		s.t.Fatal(err)
	}
	if len(c.tables) == 0 {
		s.t.Fatal("snapshot: the database has no tables")
	}
	for _, table := range c.tables {
		st, err := db.Prepare(`SELECT * FROM "` + strings.ReplaceAll(table, `"`, `""`) + `"`)
		if err != nil {
			s.t.Fatal(err)
		}
		c.stmts = append(c.stmts, st)
	}
	permSnapshotDBs[s] = c
	return c
}

// cell runs one operation as one principal and checks the oracle's answer.
func (e *permEnv) cell(t *testing.T, version string, op permOp, p permPrincipal) {
	allowed := permOracle(e.profile, op, p)
	id := ""
	switch op.fixture {
	case "connector":
		if allowed {
			id = e.newConnector(t) // each allowed call gets its own connector
		} else {
			id = e.shared
		}
	case "provider":
		e.setAmazon(t, true)
		id = permAmazonID
	case "noProvider":
		e.setAmazon(t, false)
	case "flow":
		e.setFlow(t, op.flows, true)
		id = permFlowID(op.flows)
	case "flowIdP", "flowNoIdP":
		e.setFlowGoogle(t, op.flows, op.fixture == "flowIdP")
		id = permFlowID(op.flows)
	case "noFlow":
		e.setFlow(t, op.flows, false)
	}
	req := request{Method: op.method, Path: "/" + version + op.path(id), Token: e.tokens[op.tenant][p.name]}
	if op.body != nil {
		req.Body = op.body(e)
	}
	var before map[string]string
	if !allowed {
		if before = e.snap; before == nil {
			before = permFullSnapshot(e.s)
		}
	}
	e.snap = nil
	r := e.s.do(req)

	want := http.StatusForbidden
	if allowed {
		want = permSuccessStatus(e.profile, op)
	}
	if r.Status != want {
		defer e.resync(t)
	} else if allowed {
		switch strings.TrimPrefix(op.name, op.flows+".") {
		case "identityProviders.create", "identity.identityProviders.create":
			e.amazon = true
		case "identityProviders.delete", "identity.identityProviders.delete":
			e.amazon = false
		}
		if st := e.flows[op.flows]; st != nil {
			switch strings.TrimPrefix(op.name, op.flows+".") {
			case "create":
				st.exists, st.google = true, false
			case "delete":
				st.exists, st.google = false, false
			case "identityProviders.addRef":
				st.google = true
			case "identityProviders.removeRef":
				st.google = false
			}
		}
	}

	if op.fixture == "connector" && allowed && op.method != "DELETE" {
		// Keep the store small: every denied cell reads all of it.
		defer e.fixture(request{Method: "DELETE", Path: "/v1.0/identity/apiConnectors/" + id, Token: e.admin})
	}
	if !allowed {
		after := permFullSnapshot(e.s)
		if !maps.Equal(before, after) {
			t.Errorf("denied %s %s changed the store:\n%s", req.Method, req.Path, permSnapshotDiff(before, after))
		}
		if r.Status == http.StatusForbidden {
			e.snap = after
		}
		if r.Status != http.StatusForbidden {
			t.Errorf("%s %s: status = %d, want 403 (denied by the spec)", req.Method, req.Path, r.Status)
		}
		checkError(t, r, http.StatusForbidden, "Authorization_RequestDenied")
		var env struct {
			Error struct{ Message string } `json:"error"`
		}
		if json.Unmarshal(r.Body, &env) == nil && env.Error.Message != "Insufficient privileges to complete the operation." {
			t.Errorf("403 message = %q, want %q", env.Error.Message, "Insufficient privileges to complete the operation.")
		}
		return
	}
	if r.Status != want {
		t.Fatalf("%s %s: status = %d, want %d (allowed by the spec); body %s", req.Method, req.Path, r.Status, want, r.Body)
	}
	if want == http.StatusNoContent {
		if len(r.Body) != 0 {
			t.Errorf("204 with a body: %s", r.Body)
		}
		return
	}
	body := r.JSON(t)
	name := strings.TrimPrefix(op.name, op.flows+".")
	switch {
	case strings.HasSuffix(name, "list"), strings.HasSuffix(name, "availableProviderTypes"):
		if _, ok := body["value"].([]any); !ok {
			t.Errorf("no value array: %s", r.Body)
		}
		if name == "identityProviders.list" && op.resource == "userFlows" && !strings.Contains(string(r.Body), `"`+permGoogleID+`"`) {
			t.Errorf("the flow's identity providers do not list %s: %s", permGoogleID, r.Body)
		}
	case strings.HasSuffix(name, "create"):
		if s, _ := body["id"].(string); s == "" {
			t.Errorf("created entity has no id: %s", r.Body)
		}
	case name == "apiConnectorConfiguration.get":
		c, _ := body["postFederationSignup"].(map[string]any)
		if c == nil || c["id"] != e.flowConn[op.tenant] {
			t.Errorf("expanded postFederationSignup is not the flow's connector %s: %s", e.flowConn[op.tenant], r.Body)
		}
	case name == "apiConnectorConfiguration.step.get":
		if body["id"] != e.flowConn[op.tenant] {
			t.Errorf("postFederationSignup id = %v, want the flow's connector %s", body["id"], e.flowConn[op.tenant])
		}
	default:
		if !strings.EqualFold(fmt.Sprint(body["id"]), id) {
			t.Errorf("entity id = %v, want %s", body["id"], id)
		}
	}
}

func permSnapshotDiff(a, b map[string]string) string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			out = append(out, "- "+k)
		} else if v != w {
			out = append(out, "~ "+k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "+ "+k)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// TestPermissionMatrix runs every operation, in both versions (b2cUserFlows:
// beta only) and both profiles, as every kind of caller, and compares the
// outcome with the spec's rules.
func TestPermissionMatrix(t *testing.T) {
	principals := permPrincipals()
	for _, profile := range []graph.Profile{graph.ProfileCurrent, graph.ProfileClassic} {
		t.Run(string(profile), func(t *testing.T) {
			t.Parallel()
			e := newPermEnv(t, profile, principals)
			cells, allowed, ops := 0, 0, 0
			for _, version := range []string{"v1.0", "beta"} {
				t.Run(version, func(t *testing.T) {
					for _, op := range permOps {
						if op.betaOnly && version != "beta" {
							continue
						}
						ops++
						t.Run(op.name, func(t *testing.T) {
							for _, p := range principals {
								cells++
								if permOracle(profile, op, p) {
									allowed++
								}
								t.Run(p.name, func(t *testing.T) { e.cell(t, version, op, p) })
							}
						})
					}
				})
			}
			t.Logf("%s profile: %d cells (%d operation×version pairs × %d principals), %d allowed, %d denied",
				profile, cells, ops, len(principals), allowed, cells-allowed)
		})
	}
}

// TestPermissionOracleSanity pins a few cells of the oracle to the spec's
// words, so the matrix is not comparing the server with a broken oracle.
func TestPermissionOracleSanity(t *testing.T) {
	op := func(name string) permOp {
		for _, o := range permOps {
			if o.name == name {
				return o
			}
		}
		t.Fatalf("no op %s", name)
		return permOp{}
	}
	app := func(perms ...string) permPrincipal { return permPrincipal{perms: perms} }
	user := func(scp string, wids ...string) permPrincipal {
		return permPrincipal{delegated: true, perms: []string{scp}, wids: wids}
	}
	cur, cls := graph.ProfileCurrent, graph.ProfileClassic
	for _, c := range []struct {
		profile graph.Profile
		op      string
		p       permPrincipal
		want    bool
	}{
		{cur, "apiConnectors.get", app(permAPIConnectorsReadWrite), true},
		{cur, "apiConnectors.get", app(permAPIConnectorsRead), false},
		{cur, "apiConnectors.update", app(permIdentityUserFlowWrite), false},
		{cls, "apiConnectors.get", app(permIdentityUserFlowWrite), true},
		{cls, "apiConnectors.get", app(permIdentityUserFlowRead), false},
		{cls, "apiConnectors.update", app(permIdentityUserFlowRead), true},
		{cls, "apiConnectors.update", user(permIdentityUserFlowRead, permWidUserFlowAdmin), true},
		{cls, "apiConnectors.update", user(permIdentityUserFlowRead, permWidIdentityProviderAdmin), false},
		{cur, "apiConnectors.create", user(permAPIConnectorsReadWrite, permCustomUserFlowRole), true},
		{cur, "apiConnectors.create", user(permAPIConnectorsReadWrite, permCustomIdPRole), false},
		{cur, "identityProviders.get", user(permIdentityProviderRead, permWidUserFlowAdmin), true},
		{cur, "identityProviders.update", user(permIdentityProviderWrite, permWidUserFlowAdmin), false},
		{cur, "identityProviders.delete", user(permIdentityProviderWrite, permCustomIdPRole), true},
		{cur, "identityProviders.list", user(permIdentityProviderWrite, permCustomUserFlowRole), false},
		{cur, "identityProviders.availableProviderTypes", app(permIdentityProviderRead), true},
		{cur, "identityProviders.create", app(permIdentityProviderRead), false},
		{cls, "identityProviders.create", app(permIdentityUserFlowWrite), false},
		{cur, "identityProviders.get", permPrincipal{personal: true, perms: []string{permIdentityProviderWrite}}, false},
		{cur, "identity.identityProviders.get", user(permIdentityProviderRead, permWidUserFlowAdmin), true},
		{cls, "identity.identityProviders.create", user(permIdentityProviderWrite, permWidUserFlowAdmin), false},
		{cur, "identity.identityProviders.availableProviderTypes", app(permIdentityProviderRead), true},
		{cur, "identity.identityProviders.delete", user(permIdentityProviderWrite, permCustomIdPRole), true},
		// §2.2, §2.5: IdentityUserFlow.ReadWrite.All even to read a flow's
		// connector configuration and identity providers.
		{cur, "b2xUserFlows.list", app(permIdentityUserFlowRead), true},
		{cls, "b2cUserFlows.get", user(permIdentityUserFlowRead, permWidUserFlowAdmin), true},
		{cur, "b2xUserFlows.apiConnectorConfiguration.get", app(permIdentityUserFlowRead), false},
		{cur, "b2cUserFlows.identityProviders.list", app(permIdentityUserFlowRead), false},
		{cur, "b2xUserFlows.identityProviders.list", app(permIdentityUserFlowWrite), true},
		{cur, "b2xUserFlows.create", app(permIdentityUserFlowRead), false},
		{cls, "b2xUserFlows.delete", app(permAPIConnectorsReadWrite), false},
		{cur, "b2xUserFlows.get", app(permIdentityProviderWrite), false},
		{cur, "b2xUserFlows.apiConnectorConfiguration.putRef", user(permIdentityUserFlowWrite, permWidIdentityProviderAdmin), false},
		{cur, "b2xUserFlows.apiConnectorConfiguration.putRef", user(permIdentityUserFlowWrite, permCustomUserFlowRole), true},
		{cur, "b2cUserFlows.identityProviders.addRef", user(permIdentityUserFlowWrite, permCustomIdPRole), false},
		{cls, "b2cUserFlows.identityProviders.removeRef", user(permIdentityUserFlowWrite, permWidGlobalAdmin), true},
		{cur, "b2xUserFlows.get", user(permIdentityUserFlowRead, permWidIdentityProviderAdmin), false},
		{cur, "b2xUserFlows.list", permPrincipal{personal: true, delegated: true, perms: []string{permIdentityUserFlowWrite},
			wids: []string{permWidGlobalAdmin}}, false},
	} {
		if got := permOracle(c.profile, op(c.op), c.p); got != c.want {
			t.Errorf("oracle(%s, %s, %+v) = %v, want %v", c.profile, c.op, c.p, got, c.want)
		}
	}
}

// TestPermissionNoToken: every route without a token answers 401
// InvalidAuthenticationToken and changes nothing. The objects the paths name
// exist; b2cUserFlows in v1.0, which does not exist, answers 401 too:
// authentication comes before everything else.
func TestPermissionNoToken(t *testing.T) {
	e := newPermEnv(t, graph.ProfileClassic, nil)
	s := e.s
	conn := e.newConnector(t)
	e.setAmazon(t, true)
	for coll := range e.flows {
		e.setFlowGoogle(t, coll, true)
	}
	for _, version := range []string{"v1.0", "beta"} {
		for _, op := range permOps {
			t.Run(version+"/"+op.name, func(t *testing.T) {
				id := ""
				switch op.fixture {
				case "connector":
					id = conn
				case "provider", "noProvider":
					id = permAmazonID
				case "flow", "flowIdP", "flowNoIdP", "noFlow":
					id = permFlowID(op.flows)
				}
				req := request{Method: op.method, Path: "/" + version + op.path(id)}
				if op.body != nil {
					req.Body = op.body(e)
				}
				before := permFullSnapshot(s)
				r := s.do(req)
				checkError(t, r, http.StatusUnauthorized, "InvalidAuthenticationToken")
				if after := permFullSnapshot(s); !maps.Equal(before, after) {
					t.Errorf("unauthenticated %s %s changed the store:\n%s", req.Method, req.Path, permSnapshotDiff(before, after))
				}
			})
		}
	}
}

// TestPermissionTenantIsolation: a token for tenant A cannot see or touch
// tenant B's objects; they look exactly like objects that never existed.
func TestPermissionTenantIsolation(t *testing.T) {
	s := newServer(t)
	a := s.Tenant.ID
	b := s.newTenant(graph.TenantB2C, "").ID
	adminA, adminB := s.adminToken(a), s.adminToken(b)
	userA := s.userToken(a, []string{permAPIConnectorsReadWrite, permIdentityProviderWrite}, []string{permWidGlobalAdmin})

	r := s.do(request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: adminB, Body: permConnectorBody()})
	if r.Status != http.StatusCreated {
		t.Fatalf("create connector in B: %d %s", r.Status, r.Body)
	}
	connB := r.JSON(t)["id"].(string)
	r = s.do(request{Method: "POST", Path: "/v1.0/identityProviders", Token: adminB, Body: permProviderBody()})
	if r.Status != http.StatusCreated {
		t.Fatalf("create provider in B: %d %s", r.Status, r.Body)
	}
	pfx, err := certtest.Valid("isolation", "")
	if err != nil {
		t.Fatal(err)
	}

	errorMessage := func(t *testing.T, r response) string {
		t.Helper()
		var env struct {
			Error struct{ Message string } `json:"error"`
		}
		if err := json.Unmarshal(r.Body, &env); err != nil {
			t.Fatalf("error body: %v: %s", err, r.Body)
		}
		return env.Error.Message
	}
	// notFoundLikeNever checks that req on B's object (id) answers as the
	// same request on an id that never existed (never).
	notFoundLikeNever := func(t *testing.T, req request, id, never string) {
		t.Helper()
		before := s.snapshot()
		r := s.do(req)
		checkError(t, r, http.StatusNotFound, "Request_ResourceNotFound")
		if after := s.snapshot(); !maps.Equal(before, after) {
			t.Errorf("%s %s from tenant A changed the store:\n%s", req.Method, req.Path, permSnapshotDiff(before, after))
		}
		req.Path = strings.Replace(req.Path, id, never, 1)
		rn := s.do(req)
		checkError(t, rn, http.StatusNotFound, "Request_ResourceNotFound")
		got := strings.ReplaceAll(errorMessage(t, r), id, "{id}")
		want := strings.ReplaceAll(errorMessage(t, rn), never, "{id}")
		if got != want {
			t.Errorf("message for B's object %q, for a never-existing one %q (ids replaced by {id})", got, want)
		}
	}

	for _, version := range []string{"v1.0", "beta"} {
		for _, tok := range []struct{ name, token string }{{"app", adminA}, {"delegated", userA}} {
			t.Run(version+"/"+tok.name, func(t *testing.T) {
				never := uuid.NewString()
				base := "/" + version + "/identity/apiConnectors/"
				for _, req := range []request{
					{Method: "GET", Path: base + connB},
					{Method: "PATCH", Path: base + connB, Body: map[string]any{"displayName": "hijacked"}},
					{Method: "POST", Path: base + connB + "/uploadClientCertificate", Body: map[string]any{"pkcs12Value": pfx.Base64, "password": ""}},
					{Method: "DELETE", Path: base + connB},
				} {
					req.Token = tok.token
					t.Run("apiConnectors."+req.Method, func(t *testing.T) { notFoundLikeNever(t, req, connB, never) })
				}
				// Amazon-OAUTH exists in B only; Google-OAUTH exists nowhere.
				pbase := "/" + version + "/identityProviders/"
				for _, req := range []request{
					{Method: "GET", Path: pbase + permAmazonID},
					{Method: "PATCH", Path: pbase + permAmazonID, Body: map[string]any{"clientSecret": "hijacked-secret"}},
					{Method: "DELETE", Path: pbase + permAmazonID},
				} {
					req.Token = tok.token
					t.Run("identityProviders."+req.Method, func(t *testing.T) { notFoundLikeNever(t, req, permAmazonID, "Google-OAUTH") })
				}
				for _, path := range []string{"/identity/apiConnectors", "/identityProviders"} {
					r := s.do(request{Method: "GET", Path: "/" + version + path, Token: tok.token})
					if r.Status != http.StatusOK {
						t.Fatalf("list %s in A: %d %s", path, r.Status, r.Body)
					}
					if v := r.JSON(t)["value"].([]any); len(v) != 0 {
						t.Errorf("list %s in A shows B's objects: %s", path, r.Body)
					}
				}
			})
		}
	}
	// B still sees its own objects, unchanged by A's attempts.
	r = s.do(request{Method: "GET", Path: "/v1.0/identity/apiConnectors/" + connB, Token: adminB})
	if r.Status != http.StatusOK || r.JSON(t)["displayName"] != "Permission matrix connector" {
		t.Errorf("B's connector after A's attempts: %d %s", r.Status, r.Body)
	}
	r = s.do(request{Method: "GET", Path: "/v1.0/identityProviders/" + permAmazonID, Token: adminB})
	if r.Status != http.StatusOK {
		t.Errorf("B's provider after A's attempts: %d %s", r.Status, r.Body)
	}
}
