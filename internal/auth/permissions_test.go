package auth

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/idgraph/idgraph/internal/graph"
)

// The expectations below are written from the spec (decisions D1 and D2,
// §5.3), not read back from the policy table.

const (
	tenantA       = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	customIdP     = "c0ffee00-0000-4000-8000-000000000001" // custom role granting identityProviders
	customFlow    = "c0ffee00-0000-4000-8000-000000000002" // custom role granting b2cUserFlow
	customBoth    = "c0ffee00-0000-4000-8000-000000000003"
	customNothing = "c0ffee00-0000-4000-8000-000000000004" // custom role with unrelated actions
	roleReaders   = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b" // Directory Readers
	roleAttrAdmin = "0f971eea-41eb-4569-a71e-57bb8a3eff1e" // External ID User Flow Attribute Administrator
	apiConnRead   = "APIConnectors.Read.All"
)

func testCustomRoles(id string) []string {
	switch id {
	case customIdP:
		return []string{"microsoft.directory/domains/federation/update", ActionIdentityProviders}
	case customFlow:
		return []string{ActionB2CUserFlow}
	case customBoth:
		return []string{ActionB2CUserFlow, ActionIdentityProviders}
	case customNothing:
		return []string{"microsoft.directory/b2cUserAttribute/allProperties/allTasks", "microsoft.directory/users/allProperties/allTasks"}
	}
	return nil
}

func app(roles ...string) graph.Principal {
	return graph.Principal{TenantID: tenantA, ObjectID: testOID, AppID: testAppID, Roles: roles}
}

func user(scopes string, wids ...string) graph.Principal {
	return graph.Principal{TenantID: tenantA, ObjectID: testOID, AppID: testAppID, Delegated: true,
		Scopes: strings.Fields(scopes), DirectoryRoles: wids}
}

// op groups of the slice.
var (
	connectorOps = []Policy{APIConnectorList, APIConnectorCreate, APIConnectorGet, APIConnectorUpdate,
		APIConnectorDelete, APIConnectorUpload}
	connectorOpsButUpdate = []Policy{APIConnectorList, APIConnectorCreate, APIConnectorGet,
		APIConnectorDelete, APIConnectorUpload}
	profiles = []graph.Profile{graph.ProfileClassic, graph.ProfileCurrent}
)

type authzRow struct {
	name     string
	p        graph.Principal
	ops      []Policy
	profiles []graph.Profile
	custom   CustomRoles
	allow    bool
}

func runAuthz(t *testing.T, rows []authzRow) {
	t.Helper()
	for _, r := range rows {
		for _, prof := range r.profiles {
			for _, op := range r.ops {
				t.Run(fmt.Sprintf("%s/%s/%s", r.name, prof, op.Name), func(t *testing.T) {
					err := Authorize(r.p, op.For(prof), r.custom)
					if r.allow {
						if err != nil {
							t.Fatalf("denied: %v", err)
						}
						return
					}
					assertDenied(t, err)
				})
			}
		}
	}
}

func assertDenied(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("allowed, want 403")
	}
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Kind != graph.KindForbidden || ge.Code != "Authorization_RequestDenied" ||
		ge.Message != "Insufficient privileges to complete the operation." {
		t.Fatalf("error %#v, want 403 Authorization_RequestDenied", err)
	}
}

func TestAuthorizeApplicationTokens(t *testing.T) {
	all := []graph.Profile{graph.ProfileClassic, graph.ProfileCurrent}
	classic := []graph.Profile{graph.ProfileClassic}
	current := []graph.Profile{graph.ProfileCurrent}
	idpAll := []Policy{IdentityProviderRead, IdentityProviderWrite}
	rows := []authzRow{
		// API connectors (D1): today's permission in both profiles.
		{"APIConnectors.ReadWrite.All", app(APIConnectorsReadWriteAll), connectorOps, all, nil, true},
		{"APIConnectors.Read.All (not enough for any connector operation)", app(apiConnRead), connectorOps, all, nil, false},
		// Classic accepts IdentityUserFlow.ReadWrite.All for every operation...
		{"classic IdentityUserFlow.ReadWrite.All", app(IdentityUserFlowReadWriteAll), connectorOps, classic, nil, true},
		// ... and IdentityUserFlow.Read.All for the update only.
		{"classic IdentityUserFlow.Read.All on update", app(IdentityUserFlowReadAll), []Policy{APIConnectorUpdate}, classic, nil, true},
		{"classic IdentityUserFlow.Read.All elsewhere", app(IdentityUserFlowReadAll), connectorOpsButUpdate, classic, nil, false},
		// Current accepts neither.
		{"current IdentityUserFlow.ReadWrite.All", app(IdentityUserFlowReadWriteAll), connectorOps, current, nil, false},
		{"current IdentityUserFlow.Read.All", app(IdentityUserFlowReadAll), connectorOps, current, nil, false},
		// Identity providers: same in both profiles.
		{"IdentityProvider.ReadWrite.All", app(IdentityProviderReadWriteAll), idpAll, all, nil, true},
		{"IdentityProvider.Read.All reads", app(IdentityProviderReadAll), []Policy{IdentityProviderRead}, all, nil, true},
		{"IdentityProvider.Read.All cannot write", app(IdentityProviderReadAll), []Policy{IdentityProviderWrite}, all, nil, false},
		// Permissions of one resource do not open the other.
		{"connector permission on providers", app(APIConnectorsReadWriteAll, IdentityUserFlowReadWriteAll), idpAll, all, nil, false},
		{"provider permission on connectors", app(IdentityProviderReadWriteAll), connectorOps, all, nil, false},
		// Nothing, or the wrong kind of permission.
		{"no roles", app(), append(clonePolicies(connectorOps), idpAll...), all, testCustomRoles, false},
		{"unrelated roles", app("Directory.ReadWrite.All", "User.Read.All"), append(clonePolicies(connectorOps), idpAll...), all, nil, false},
		{"permission names are case-sensitive", app(strings.ToLower(IdentityProviderReadWriteAll)), idpAll, all, nil, false},
		// An app token is judged on roles only: scopes and wids add nothing.
		{"app with scopes and GA wids but no roles", graph.Principal{TenantID: tenantA,
			Scopes: []string{APIConnectorsReadWriteAll, IdentityProviderReadWriteAll}, DirectoryRoles: []string{RoleGlobalAdministrator, customBoth}},
			append(clonePolicies(connectorOps), idpAll...), all, testCustomRoles, false},
		// An app needs no directory role.
		{"app without wids", app(IdentityProviderReadWriteAll, APIConnectorsReadWriteAll), append(clonePolicies(connectorOps), idpAll...), all, nil, true},
	}
	runAuthz(t, rows)
}

func TestAuthorizeDelegatedTokens(t *testing.T) {
	all := []graph.Profile{graph.ProfileClassic, graph.ProfileCurrent}
	classic := []graph.Profile{graph.ProfileClassic}
	current := []graph.Profile{graph.ProfileCurrent}
	idpAll := []Policy{IdentityProviderRead, IdentityProviderWrite}
	read := []Policy{IdentityProviderRead}
	write := []Policy{IdentityProviderWrite}
	rows := []authzRow{
		// API connectors: scp plus GA or External ID User Flow Administrator.
		{"connectors: scope + GA", user(APIConnectorsReadWriteAll, RoleGlobalAdministrator), connectorOps, all, nil, true},
		{"connectors: scope + user flow admin", user(APIConnectorsReadWriteAll, RoleExternalIDUserFlowAdministrator), connectorOps, all, nil, true},
		{"connectors: scope + IdP admin", user(APIConnectorsReadWriteAll, RoleExternalIdentityProviderAdministrator), connectorOps, all, nil, false},
		{"connectors: scope + attribute admin", user(APIConnectorsReadWriteAll, roleAttrAdmin), connectorOps, all, nil, false},
		{"connectors: scope + directory readers", user(APIConnectorsReadWriteAll, roleReaders), connectorOps, all, nil, false},
		{"connectors: scope, no wids", user(APIConnectorsReadWriteAll), connectorOps, all, testCustomRoles, false},
		{"connectors: GA, no scope", user("", RoleGlobalAdministrator), connectorOps, all, testCustomRoles, false},
		{"connectors: GA, unrelated scopes", user("openid profile User.Read", RoleGlobalAdministrator), connectorOps, all, nil, false},
		{"connectors: GA, Read.All scope", user(apiConnRead, RoleGlobalAdministrator), connectorOps, all, nil, false},
		{"connectors: GA, roles claim instead of scp", graph.Principal{TenantID: tenantA, Delegated: true,
			Roles: []string{APIConnectorsReadWriteAll}, DirectoryRoles: []string{RoleGlobalAdministrator}}, connectorOps, all, nil, false},
		// Classic scopes.
		{"classic connectors: IdentityUserFlow.ReadWrite.All + GA", user(IdentityUserFlowReadWriteAll, RoleGlobalAdministrator), connectorOps, classic, nil, true},
		{"classic update: IdentityUserFlow.Read.All + user flow admin", user(IdentityUserFlowReadAll, RoleExternalIDUserFlowAdministrator), []Policy{APIConnectorUpdate}, classic, nil, true},
		{"classic others: IdentityUserFlow.Read.All + GA", user(IdentityUserFlowReadAll, RoleGlobalAdministrator), connectorOpsButUpdate, classic, nil, false},
		{"current connectors: IdentityUserFlow.ReadWrite.All + GA", user(IdentityUserFlowReadWriteAll, RoleGlobalAdministrator), connectorOps, current, nil, false},
		{"current update: IdentityUserFlow.Read.All + GA", user(IdentityUserFlowReadAll, RoleGlobalAdministrator), []Policy{APIConnectorUpdate}, current, nil, false},
		// Identity providers.
		{"providers: ReadWrite + GA", user(IdentityProviderReadWriteAll, RoleGlobalAdministrator), idpAll, all, nil, true},
		{"providers: ReadWrite + IdP admin", user(IdentityProviderReadWriteAll, RoleExternalIdentityProviderAdministrator), idpAll, all, nil, true},
		{"providers: ReadWrite + user flow admin reads", user(IdentityProviderReadWriteAll, RoleExternalIDUserFlowAdministrator), read, all, nil, true},
		{"providers: ReadWrite + user flow admin cannot write", user(IdentityProviderReadWriteAll, RoleExternalIDUserFlowAdministrator), write, all, nil, false},
		{"providers: Read + IdP admin reads", user(IdentityProviderReadAll, RoleExternalIdentityProviderAdministrator), read, all, nil, true},
		{"providers: Read scope cannot write, even as GA", user(IdentityProviderReadAll, RoleGlobalAdministrator), write, all, nil, false},
		{"providers: scope, no wids", user(IdentityProviderReadWriteAll), idpAll, all, testCustomRoles, false},
		{"providers: GA, no scope", user("", RoleGlobalAdministrator), idpAll, all, nil, false},
		{"providers: GA, connector scope", user(APIConnectorsReadWriteAll, RoleGlobalAdministrator), idpAll, all, nil, false},
		{"providers: attribute admin + readers", user(IdentityProviderReadWriteAll, roleAttrAdmin, roleReaders), idpAll, all, nil, false},
		{"providers: supporting role among others", user("openid "+IdentityProviderReadWriteAll, roleReaders, RoleExternalIdentityProviderAdministrator), idpAll, all, nil, true},
		{"role ids are exact", user(IdentityProviderReadWriteAll, strings.ToUpper(RoleGlobalAdministrator)+"x"), idpAll, all, nil, false},
		// Custom roles.
		{"custom identityProviders role: providers", user(IdentityProviderReadWriteAll, customIdP), idpAll, all, testCustomRoles, true},
		{"custom identityProviders role: not connectors", user(APIConnectorsReadWriteAll, customIdP), connectorOps, all, testCustomRoles, false},
		{"custom b2cUserFlow role: connectors", user(APIConnectorsReadWriteAll, customFlow), connectorOps, all, testCustomRoles, true},
		{"custom b2cUserFlow role: classic scope", user(IdentityUserFlowReadWriteAll, customFlow), connectorOps, classic, testCustomRoles, true},
		{"custom b2cUserFlow role: not providers", user(IdentityProviderReadWriteAll, customFlow), idpAll, all, testCustomRoles, false},
		{"custom role with both actions", user(IdentityProviderReadWriteAll+" "+APIConnectorsReadWriteAll, customBoth), append(clonePolicies(connectorOps), idpAll...), all, testCustomRoles, true},
		{"custom role with unrelated actions", user(IdentityProviderReadWriteAll+" "+APIConnectorsReadWriteAll, customNothing), append(clonePolicies(connectorOps), idpAll...), all, testCustomRoles, false},
		{"custom role, no scope", user("", customBoth), append(clonePolicies(connectorOps), idpAll...), all, testCustomRoles, false},
		{"custom role among unknown ids", user(IdentityProviderReadWriteAll, "deadbeef-0000-4000-8000-000000000000", customIdP), idpAll, all, testCustomRoles, true},
		{"unknown custom id", user(IdentityProviderReadWriteAll+" "+APIConnectorsReadWriteAll, "deadbeef-0000-4000-8000-000000000000"), append(clonePolicies(connectorOps), idpAll...), all, testCustomRoles, false},
		// No custom-role resolver: custom ids grant nothing, built-in roles still work.
		{"nil custom func, custom id", user(IdentityProviderReadWriteAll+" "+APIConnectorsReadWriteAll, customBoth), append(clonePolicies(connectorOps), idpAll...), all, nil, false},
		{"nil custom func, GA", user(IdentityProviderReadWriteAll+" "+APIConnectorsReadWriteAll, RoleGlobalAdministrator), append(clonePolicies(connectorOps), idpAll...), all, nil, true},
	}
	runAuthz(t, rows)
}

// Personal Microsoft accounts are refused for every operation, whatever the
// token holds (D2).
func TestAuthorizeMSATenantDenied(t *testing.T) {
	everyPerm := []string{APIConnectorsReadWriteAll, apiConnRead, IdentityProviderReadAll, IdentityProviderReadWriteAll,
		IdentityUserFlowReadAll, IdentityUserFlowReadWriteAll}
	everyRole := []string{RoleGlobalAdministrator, RoleExternalIdentityProviderAdministrator,
		RoleExternalIDUserFlowAdministrator, customBoth, customIdP, customFlow}
	ops := append(clonePolicies(connectorOps), IdentityProviderRead, IdentityProviderWrite)
	principals := map[string]graph.Principal{
		"app": {TenantID: graph.MSATenantID, Roles: everyPerm},
		"delegated": {TenantID: graph.MSATenantID, Delegated: true, Scopes: everyPerm,
			DirectoryRoles: everyRole},
	}
	for name, p := range principals {
		for _, prof := range profiles {
			for _, op := range ops {
				for _, custom := range []CustomRoles{nil, testCustomRoles} {
					t.Run(fmt.Sprintf("%s/%s/%s/custom=%v", name, prof, op.Name, custom != nil), func(t *testing.T) {
						assertDenied(t, Authorize(p, op.For(prof), custom))
					})
				}
			}
		}
		// The same principal in an ordinary tenant is allowed everywhere:
		// the tenant alone causes the refusal.
		p.TenantID = tenantA
		for _, prof := range profiles {
			for _, op := range ops {
				if err := Authorize(p, op.For(prof), testCustomRoles); err != nil {
					t.Errorf("%s in %s: %s/%s denied: %v", name, tenantA, prof, op.Name, err)
				}
			}
		}
	}
}

// End to end: a validly signed MSA token, its tid in upper case, is verified
// and then refused by Authorize.
func TestVerifiedMSATokenDenied(t *testing.T) {
	msaUpper := strings.ToUpper(graph.MSATenantID)
	for name, claims := range map[string]obj{
		"app": with(appClaims(), "tid", msaUpper, "iss", "https://login.microsoftonline.com/"+msaUpper+"/v2.0",
			"roles", []string{IdentityProviderReadWriteAll, APIConnectorsReadWriteAll}),
		"delegated": with(userClaims(), "tid", msaUpper, "iss", "https://sts.windows.net/"+msaUpper+"/",
			"scp", IdentityProviderReadWriteAll+" "+APIConnectorsReadWriteAll, "wids", []string{RoleGlobalAdministrator}),
	} {
		t.Run(name, func(t *testing.T) {
			p, err := newVerifier(newKeySource()).Verify(context.Background(), validToken(t, claims))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			for _, prof := range profiles {
				for _, op := range append(clonePolicies(connectorOps), IdentityProviderRead, IdentityProviderWrite) {
					assertDenied(t, Authorize(p, op.For(prof), testCustomRoles))
				}
			}
		})
	}
}

// The custom-role resolver is consulted only for delegated principals that
// hold the scope, and only with ids from wids.
func TestAuthorizeCustomRolesLookups(t *testing.T) {
	var asked []string
	custom := func(id string) []string { asked = append(asked, id); return testCustomRoles(id) }

	_ = Authorize(app(IdentityProviderReadWriteAll), IdentityProviderWrite.For(graph.ProfileCurrent), custom)
	_ = Authorize(user("", customIdP), IdentityProviderWrite.For(graph.ProfileCurrent), custom)
	if len(asked) != 0 {
		t.Errorf("resolver consulted for %q", asked)
	}
	asked = nil
	if err := Authorize(user(IdentityProviderReadWriteAll, roleReaders, customIdP), IdentityProviderWrite.For(graph.ProfileCurrent), custom); err != nil {
		t.Fatal(err)
	}
	for _, id := range asked {
		if id != roleReaders && id != customIdP {
			t.Errorf("resolver asked for %q, not in wids", id)
		}
	}
}

// Policy.For picks the requirement of the profile.
func TestPolicyFor(t *testing.T) {
	all := append(clonePolicies(connectorOps), IdentityProviderRead, IdentityProviderWrite)
	for _, op := range all {
		if got := op.For(graph.ProfileClassic); !reflect.DeepEqual(got, op.Classic) {
			t.Errorf("%s: For(classic) = %+v, want Classic", op.Name, got)
		}
		if got := op.For(graph.ProfileCurrent); !reflect.DeepEqual(got, op.Current) {
			t.Errorf("%s: For(current) = %+v, want Current", op.Name, got)
		}
	}
	// D1: the profiles differ for API connectors only.
	for _, op := range connectorOps {
		if reflect.DeepEqual(op.Classic, op.Current) {
			t.Errorf("%s: classic and current requirements are identical", op.Name)
		}
	}
	for _, op := range []Policy{IdentityProviderRead, IdentityProviderWrite} {
		if !reflect.DeepEqual(op.Classic, op.Current) {
			t.Errorf("%s: classic and current requirements differ", op.Name)
		}
	}
	// Every operation has a name and something that allows it.
	for _, op := range all {
		for _, prof := range profiles {
			r := op.For(prof)
			if op.Name == "" || len(r.Application) == 0 || len(r.Delegated) == 0 || len(r.DirectoryRoles) == 0 || len(r.RoleActions) == 0 {
				t.Errorf("%q under %s: incomplete requirement %+v", op.Name, prof, r)
			}
			// GA is always a supporting role (§5.1).
			found := false
			for _, id := range r.DirectoryRoles {
				found = found || id == RoleGlobalAdministrator
			}
			if !found {
				t.Errorf("%s under %s: Global Administrator is not a supporting role", op.Name, prof)
			}
		}
	}
}

// A zero Requirement allows nobody.
func TestAuthorizeEmptyRequirementDenies(t *testing.T) {
	for _, p := range []graph.Principal{app(APIConnectorsReadWriteAll), user(APIConnectorsReadWriteAll, RoleGlobalAdministrator, customBoth), {}} {
		assertDenied(t, Authorize(p, Requirement{}, testCustomRoles))
	}
}

func clonePolicies(ps []Policy) []Policy { return append([]Policy(nil), ps...) }
