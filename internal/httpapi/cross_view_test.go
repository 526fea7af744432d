package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// The two views of identity providers (decision D4) and the references user
// flows hold. (a) A provider written through one API is read, changed and
// deleted through the other, in both versions, and every change shows in
// the other view at once. (b) Nothing a user flow uses can be deleted, by
// either API, not even when the delete races the attach.

var cvVersions = []string{"v1.0", "beta"}

// cvOther is the other API version.
func cvOther(v string) string {
	if v == "v1.0" {
		return "beta"
	}
	return "v1.0"
}

// cvDeprecatedWant is the deprecated-view body of a social provider.
func cvDeprecatedWant(v, id, name, typ, clientID string, entity bool) map[string]any {
	m := map[string]any{"id": id, "name": name, "type": typ, "clientId": clientID, "clientSecret": "*****"}
	if v == "beta" {
		m["@odata.type"] = "microsoft.graph.identityProvider"
		if entity {
			m["@odata.context"] = ufGraphRoot + "/beta/$metadata#identityProviders/$entity"
		}
	}
	return m
}

// cvCurrentWant is the current-view body of a social provider.
func cvCurrentWant(v, id, name, typ, clientID string, entity bool) map[string]any {
	m := map[string]any{"@odata.type": "#microsoft.graph.socialIdentityProvider", "id": id, "displayName": name,
		"identityProviderType": typ, "clientId": clientID, "clientSecret": "******"}
	if entity {
		m["@odata.context"] = ufGraphRoot + "/" + v + "/$metadata#identity/identityProviders/$entity"
	}
	return m
}

// cvViews reads provider id through both views in both versions and checks
// each against the expected name and client id; when gone, each answers 404
// and no list has it.
func cvViews(t *testing.T, s *testServer, tok, id, name, typ, clientID string, gone bool) {
	t.Helper()
	for _, v := range cvVersions {
		dep := s.do(request{Method: "GET", Path: "/" + v + "/identityProviders/" + id, Token: tok})
		cur := s.do(request{Method: "GET", Path: "/" + v + "/identity/identityProviders/" + id, Token: tok})
		depList := ufValues(t, ufExpect(t, s, request{Method: "GET", Path: "/" + v + "/identityProviders", Token: tok}, http.StatusOK))
		curList := ufValues(t, ufExpect(t, s, request{Method: "GET", Path: "/" + v + "/identity/identityProviders", Token: tok}, http.StatusOK))
		if gone {
			checkError(t, dep, http.StatusNotFound, "Request_ResourceNotFound")
			checkError(t, cur, http.StatusNotFound, "Request_ResourceNotFound")
			if ufFind(depList, id) != nil || ufFind(curList, id) != nil {
				t.Errorf("%s: deleted %s still listed", v, id)
			}
			continue
		}
		if dep.Status != http.StatusOK || cur.Status != http.StatusOK {
			t.Fatalf("%s GET %s: deprecated %d %s, current %d %s", v, id, dep.Status, dep.Body, cur.Status, cur.Body)
		}
		if d := cmp.Diff(cvDeprecatedWant(v, id, name, typ, clientID, true), ufObject(t, dep)); d != "" {
			t.Errorf("%s deprecated GET (-want +got):\n%s", v, d)
		}
		if d := cmp.Diff(cvCurrentWant(v, id, name, typ, clientID, true), ufObject(t, cur)); d != "" {
			t.Errorf("%s current GET (-want +got):\n%s", v, d)
		}
		if d := cmp.Diff(cvDeprecatedWant(v, id, name, typ, clientID, false), ufFind(depList, id)); d != "" {
			t.Errorf("%s deprecated list item (-want +got):\n%s", v, d)
		}
		if d := cmp.Diff(cvCurrentWant(v, id, name, typ, clientID, false), ufFind(curList, id)); d != "" {
			t.Errorf("%s current list item (-want +got):\n%s", v, d)
		}
		if dep.Header.Get("ETag") != cur.Header.Get("ETag") {
			t.Errorf("%s: one object, two ETags: deprecated %q, current %q", v, dep.Header.Get("ETag"), cur.Header.Get("ETag"))
		}
	}
}

func TestCrossViewDeprecatedToCurrent(t *testing.T) {
	for _, v := range cvVersions {
		t.Run(v, func(t *testing.T) {
			s := newServer(t)
			tok := s.adminToken(s.Tenant.ID)
			dep := "/" + v + "/identityProviders"
			cur := "/" + v + "/identity/identityProviders"
			secret := "cv-dep-secret-" + v
			r := ufExpect(t, s, request{Method: "POST", Path: dep, Token: tok,
				Body: map[string]any{"name": "Amazon login", "type": "Amazon", "clientId": "cid-1", "clientSecret": secret}}, http.StatusCreated)
			if d := cmp.Diff(cvDeprecatedWant(v, "Amazon-OAUTH", "Amazon login", "Amazon", "cid-1", true), ufObject(t, r)); d != "" {
				t.Errorf("deprecated create (-want +got):\n%s", d)
			}
			cvViews(t, s, tok, "Amazon-OAUTH", "Amazon login", "Amazon", "cid-1", false)

			// The same object: creating it again through the other API conflicts.
			ufReject(t, s, request{Method: "POST", Path: cur, Token: tok, Body: map[string]any{
				"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "Again", "identityProviderType": "Amazon",
				"clientId": "x", "clientSecret": "y"}}, http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue")

			// PATCH through the current API: visible in the deprecated view.
			ufExpect(t, s, request{Method: "PATCH", Path: cur + "/Amazon-OAUTH", Token: tok,
				Body: map[string]any{"displayName": "Renamed", "clientId": "cid-2"}}, http.StatusNoContent)
			cvViews(t, s, tok, "Amazon-OAUTH", "Renamed", "Amazon", "cid-2", false)
			r = ufExpect(t, s, request{Method: "PATCH", Path: cur + "/amazon-oauth", Token: tok, Header: map[string]string{"Prefer": "return=representation"},
				Body: map[string]any{"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "Renamed twice", "clientSecret": "cv-new-secret"}}, http.StatusOK)
			if d := cmp.Diff(cvCurrentWant(v, "Amazon-OAUTH", "Renamed twice", "Amazon", "cid-2", true), ufObject(t, r)); d != "" {
				t.Errorf("PATCH return=representation (-want +got):\n%s", d)
			}
			ufNoSecrets(t, "PATCH representation", r.Body, secret, "cv-new-secret")
			cvViews(t, s, tok, "Amazon-OAUTH", "Renamed twice", "Amazon", "cid-2", false)

			// And back: PATCH through the deprecated API.
			ufExpect(t, s, request{Method: "PATCH", Path: dep + "/Amazon-OAUTH", Token: tok,
				Body: map[string]any{"name": "Deprecated name", "clientId": "cid-3"}}, http.StatusNoContent)
			cvViews(t, s, tok, "Amazon-OAUTH", "Deprecated name", "Amazon", "cid-3", false)

			// The type cannot change through either view.
			ufReject(t, s, request{Method: "PATCH", Path: cur + "/Amazon-OAUTH", Token: tok, Body: map[string]any{"identityProviderType": "Google"}},
				http.StatusBadRequest, "Request_BadRequest", "identityProviderType")
			ufReject(t, s, request{Method: "PATCH", Path: dep + "/Amazon-OAUTH", Token: tok, Body: map[string]any{"type": "Google"}},
				http.StatusBadRequest, "Request_BadRequest", "type")

			// DELETE through the current API: gone from both.
			ufExpect(t, s, request{Method: "DELETE", Path: cur + "/Amazon-OAUTH", Token: tok}, http.StatusNoContent)
			cvViews(t, s, tok, "Amazon-OAUTH", "", "", "", true)
			ufReject(t, s, request{Method: "DELETE", Path: dep + "/Amazon-OAUTH", Token: tok}, http.StatusNotFound, "Request_ResourceNotFound")
			ufReject(t, s, request{Method: "PATCH", Path: dep + "/Amazon-OAUTH", Token: tok, Body: map[string]any{"name": "x"}},
				http.StatusNotFound, "Request_ResourceNotFound")
			// It can be created again.
			ufExpect(t, s, request{Method: "POST", Path: dep, Token: tok,
				Body: map[string]any{"name": "Amazon login", "type": "Amazon", "clientId": "cid-1", "clientSecret": secret}}, http.StatusCreated)
		})
	}
}

func TestCrossViewCurrentToDeprecated(t *testing.T) {
	for _, v := range cvVersions {
		t.Run(v, func(t *testing.T) {
			s := newServer(t)
			tok := s.adminToken(s.Tenant.ID)
			dep := "/" + v + "/identityProviders"
			cur := "/" + v + "/identity/identityProviders"
			secret := "cv-cur-secret-" + v
			r := ufExpect(t, s, request{Method: "POST", Path: cur, Token: tok, Body: map[string]any{
				"@odata.type": "microsoft.graph.SOCIALIDENTITYPROVIDER", "displayName": "GitHub login", "identityProviderType": "github",
				"clientId": "gh-1", "clientSecret": secret}}, http.StatusCreated)
			if d := cmp.Diff(cvCurrentWant(v, "GitHub-OAUTH", "GitHub login", "GitHub", "gh-1", true), ufObject(t, r)); d != "" {
				t.Errorf("current create (-want +got):\n%s", d)
			}
			if got, want := r.Header.Get("Location"), ufGraphRoot+"/"+v+"/identity/identityProviders/GitHub-OAUTH"; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			ufNoSecrets(t, "create", r.Body, secret)
			cvViews(t, s, tok, "GitHub-OAUTH", "GitHub login", "GitHub", "gh-1", false)
			ufReject(t, s, request{Method: "POST", Path: dep, Token: tok,
				Body: map[string]any{"name": "Again", "type": "GitHub", "clientId": "x", "clientSecret": "y"}},
				http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue")

			ufExpect(t, s, request{Method: "PATCH", Path: dep + "/GitHub-OAUTH", Token: tok,
				Body: map[string]any{"name": "Via deprecated", "clientId": "gh-2"}}, http.StatusNoContent)
			cvViews(t, s, tok, "GitHub-OAUTH", "Via deprecated", "GitHub", "gh-2", false)
			// A deprecated PATCH asking for the representation gets the deprecated shape.
			r = ufExpect(t, s, request{Method: "PATCH", Path: dep + "/github-OAUTH", Token: tok, Header: map[string]string{"Prefer": "return=representation"},
				Body: map[string]any{"name": "Via deprecated 2", "clientSecret": "cv-rotated"}}, http.StatusOK)
			if d := cmp.Diff(cvDeprecatedWant(v, "GitHub-OAUTH", "Via deprecated 2", "GitHub", "gh-2", true), ufObject(t, r)); d != "" {
				t.Errorf("deprecated PATCH representation (-want +got):\n%s", d)
			}
			ufNoSecrets(t, "deprecated PATCH", r.Body, secret, "cv-rotated")
			ufExpect(t, s, request{Method: "PATCH", Path: cur + "/GitHub-OAUTH", Token: tok,
				Body: map[string]any{"displayName": "Via current", "clientId": "gh-3"}}, http.StatusNoContent)
			cvViews(t, s, tok, "GitHub-OAUTH", "Via current", "GitHub", "gh-3", false)

			ufExpect(t, s, request{Method: "DELETE", Path: dep + "/GitHub-OAUTH", Token: tok}, http.StatusNoContent)
			cvViews(t, s, tok, "GitHub-OAUTH", "", "", "", true)
			ufReject(t, s, request{Method: "DELETE", Path: cur + "/GitHub-OAUTH", Token: tok}, http.StatusNotFound, "Request_ResourceNotFound")
			ufReject(t, s, request{Method: "PATCH", Path: cur + "/GitHub-OAUTH", Token: tok, Body: map[string]any{"displayName": "x"}},
				http.StatusNotFound, "Request_ResourceNotFound")
		})
	}

	// The same holds in a workforce tenant (Google, Facebook).
	s := newServer(t)
	wf := s.newTenant(graph.TenantWorkforce, "")
	tok := s.adminToken(wf.ID)
	ufExpect(t, s, request{Method: "POST", Path: "/v1.0/identity/identityProviders", Token: tok, Body: map[string]any{
		"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "Facebook", "identityProviderType": "Facebook",
		"clientId": "fb", "clientSecret": "fb-secret"}}, http.StatusCreated)
	cvViews(t, s, tok, "Facebook-OAUTH", "Facebook", "Facebook", "fb", false)
	ufExpect(t, s, request{Method: "PATCH", Path: "/beta/identityProviders/Facebook-OAUTH", Token: tok, Body: map[string]any{"name": "FB"}}, http.StatusNoContent)
	cvViews(t, s, tok, "Facebook-OAUTH", "FB", "Facebook", "fb", false)
	ufExpect(t, s, request{Method: "DELETE", Path: "/beta/identityProviders/Facebook-OAUTH", Token: tok}, http.StatusNoContent)
	cvViews(t, s, tok, "Facebook-OAUTH", "", "", "", true)
}

// cvOpenIDConnectBody is a valid beta openIdConnectIdentityProvider.
func cvOpenIDConnectBody(name, clientID, secret string) map[string]any {
	return map[string]any{
		"@odata.type":   "#microsoft.graph.openIdConnectIdentityProvider",
		"displayName":   name,
		"clientId":      clientID,
		"clientSecret":  secret,
		"claimsMapping": map[string]any{"userId": "sub", "givenName": "given_name", "surname": "family_name", "email": "email", "displayName": "name"},
		"domainHint":    "contoso",
		"metadataUrl":   "https://login.contoso.example/.well-known/openid-configuration",
		"responseMode":  "form_post",
		"responseType":  "code",
		"scope":         "openid",
	}
}

func TestCrossViewOpenIDConnect(t *testing.T) {
	s := newServer(t)
	tok := s.adminToken(s.Tenant.ID)
	secret := "cv-oidc-secret"
	r := ufExpect(t, s, request{Method: "POST", Path: "/beta/identity/identityProviders", Token: tok,
		Body: cvOpenIDConnectBody("Contoso B2C", "cid-oidc", secret)}, http.StatusCreated)
	id, _ := ufObject(t, r)["id"].(string)
	if id != "ContosoB2C-OIDC-cid-oidc" {
		t.Errorf("id = %q, want ContosoB2C-OIDC-cid-oidc", id)
	}
	ufNoSecrets(t, "create", r.Body, secret)
	want := map[string]any{
		"@odata.type":   "microsoft.graph.openIdConnectProvider",
		"id":            id,
		"name":          "Contoso B2C",
		"type":          "OpenIDConnect",
		"clientId":      "cid-oidc",
		"clientSecret":  "*****",
		"claimsMapping": map[string]any{"userId": "sub", "givenName": "given_name", "surname": "family_name", "email": "email", "displayName": "name"},
		"domainHint":    "contoso",
		"metadataUrl":   "https://login.contoso.example/.well-known/openid-configuration",
		"responseMode":  "form_post",
		"responseType":  "code",
		"scope":         "openid",
	}
	r = ufExpect(t, s, request{Method: "GET", Path: "/beta/identityProviders", Token: tok}, http.StatusOK)
	if d := cmp.Diff(want, ufFind(ufValues(t, r), id)); d != "" {
		t.Errorf("beta deprecated list item (-want +got):\n%s", d)
	}
	ufNoSecrets(t, "beta deprecated list", r.Body, secret)
	r = ufExpect(t, s, request{Method: "GET", Path: "/beta/identityProviders/" + id, Token: tok}, http.StatusOK)
	want["@odata.context"] = ufGraphRoot + "/beta/$metadata#identityProviders/$entity"
	if d := cmp.Diff(want, ufObject(t, r)); d != "" {
		t.Errorf("beta deprecated GET (-want +got):\n%s", d)
	}

	// v1.0 knows no openIdConnect providers, in either view.
	cvHidden(t, s, tok, "v1.0", id, true, true)

	// Changes through the beta deprecated view show in the beta current view.
	ufExpect(t, s, request{Method: "PATCH", Path: "/beta/identityProviders/" + id, Token: tok,
		Body: map[string]any{"name": "Contoso renamed", "scope": "openid profile", "clientSecret": "cv-oidc-rotated"}}, http.StatusNoContent)
	r = ufExpect(t, s, request{Method: "GET", Path: "/beta/identity/identityProviders/" + id, Token: tok}, http.StatusOK)
	ufCheckProps(t, "beta current GET", ufObject(t, r), map[string]any{"@odata.type": "#microsoft.graph.openIdConnectIdentityProvider",
		"displayName": "Contoso renamed", "scope": "openid profile", "clientSecret": "******", "clientId": "cid-oidc"})
	ufNoSecrets(t, "beta current GET", r.Body, secret, "cv-oidc-rotated")
	ufExpect(t, s, request{Method: "PATCH", Path: "/beta/identity/identityProviders/" + id, Token: tok,
		Body: map[string]any{"displayName": "Contoso current", "domainHint": "contoso2"}}, http.StatusNoContent)
	r = ufExpect(t, s, request{Method: "GET", Path: "/beta/identityProviders/" + id, Token: tok}, http.StatusOK)
	ufCheckProps(t, "beta deprecated GET", ufObject(t, r), map[string]any{"name": "Contoso current", "domainHint": "contoso2", "type": "OpenIDConnect"})
	ufExpect(t, s, request{Method: "DELETE", Path: "/beta/identityProviders/" + id, Token: tok}, http.StatusNoContent)
	ufReject(t, s, request{Method: "GET", Path: "/beta/identity/identityProviders/" + id, Token: tok}, http.StatusNotFound, "Request_ResourceNotFound")

	// The reverse: beta deprecated create with type OpenIDConnect is an
	// openIdConnectIdentityProvider in the current view.
	body := cvOpenIDConnectBody("Fabrikam", "cid-fab", secret)
	delete(body, "@odata.type")
	delete(body, "displayName")
	body["name"], body["type"] = "Fabrikam", "OpenIDConnect"
	r = ufExpect(t, s, request{Method: "POST", Path: "/beta/identityProviders", Token: tok, Body: body}, http.StatusCreated)
	fid, _ := ufObject(t, r)["id"].(string)
	ufNoSecrets(t, "deprecated create", r.Body, secret)
	r = ufExpect(t, s, request{Method: "GET", Path: "/beta/identity/identityProviders/" + fid, Token: tok}, http.StatusOK)
	ufCheckProps(t, "beta current GET", ufObject(t, r), map[string]any{"@odata.type": "#microsoft.graph.openIdConnectIdentityProvider",
		"displayName": "Fabrikam", "clientId": "cid-fab", "responseType": "code"})
	cvHidden(t, s, tok, "v1.0", fid, true, true)
	ufExpect(t, s, request{Method: "DELETE", Path: "/beta/identity/identityProviders/" + fid, Token: tok}, http.StatusNoContent)
	ufReject(t, s, request{Method: "GET", Path: "/beta/identityProviders/" + fid, Token: tok}, http.StatusNotFound, "Request_ResourceNotFound")
}

// cvHidden asserts that a view of version v does not show provider id: the
// lists lack it and GET, PATCH and DELETE answer 404, changing nothing.
func cvHidden(t *testing.T, s *testServer, tok, v, id string, deprecated, current bool) {
	t.Helper()
	var bases []string
	if deprecated {
		bases = append(bases, "/"+v+"/identityProviders")
	}
	if current {
		bases = append(bases, "/"+v+"/identity/identityProviders")
	}
	for _, base := range bases {
		r := ufExpect(t, s, request{Method: "GET", Path: base, Token: tok}, http.StatusOK)
		if ufFind(ufValues(t, r), id) != nil {
			t.Errorf("GET %s lists %s: %s", base, id, r.Body)
		}
		ufReject(t, s, request{Method: "GET", Path: base + "/" + id, Token: tok}, http.StatusNotFound, "Request_ResourceNotFound")
		ufReject(t, s, request{Method: "PATCH", Path: base + "/" + id, Token: tok, Body: map[string]any{}}, http.StatusNotFound, "Request_ResourceNotFound")
		ufReject(t, s, request{Method: "DELETE", Path: base + "/" + id, Token: tok}, http.StatusNotFound, "Request_ResourceNotFound")
	}
}

func TestCrossViewHiddenProviders(t *testing.T) {
	s := newServer(t)
	b2cTok := s.adminToken(s.Tenant.ID)
	wf := s.newTenant(graph.TenantWorkforce, "")
	wfTok := s.adminToken(wf.ID)
	ext := s.newTenant(graph.TenantExternal, "")
	extTok := s.adminToken(ext.ID)

	ufExpect(t, s, request{Method: "POST", Path: "/v1.0/identity/identityProviders", Token: b2cTok, Body: ipAppleBody("cv-apple-key")}, http.StatusCreated)
	ufExpect(t, s, request{Method: "POST", Path: "/beta/identity/identityProviders", Token: extTok, Body: ipAppleBody("cv-apple-key")}, http.StatusCreated)
	r := ufExpect(t, s, request{Method: "POST", Path: "/v1.0/identity/identityProviders", Token: extTok, Body: ipOIDCBody("cv-oidc")}, http.StatusCreated)
	oidcID, _ := ufObject(t, r)["id"].(string)

	for _, tc := range []struct {
		tok string
		ids []string
	}{
		{b2cTok, []string{"Apple-Managed-OIDC"}},
		{wfTok, []string{"MSASignup-OAUTH"}},
		{extTok, []string{"Apple-Managed-OIDC", "AADSignup-OAUTH", "EmailOtpSignup-OAUTH", "EmailPassword-OAUTH", oidcID}},
	} {
		for _, v := range cvVersions {
			for _, id := range tc.ids {
				cvHidden(t, s, tc.tok, v, id, true, false)
				// The current view shows them.
				r := ufExpect(t, s, request{Method: "GET", Path: "/" + v + "/identity/identityProviders/" + id, Token: tc.tok}, http.StatusOK)
				if got, _ := ufObject(t, r)["id"].(string); got != id {
					t.Errorf("%s current GET %s: id %q", v, id, got)
				}
			}
			// Nothing but social providers in the deprecated view.
			r := ufExpect(t, s, request{Method: "GET", Path: "/" + v + "/identityProviders", Token: tc.tok}, http.StatusOK)
			if items := ufValues(t, r); len(items) != 0 {
				t.Errorf("%s deprecated list: %s", v, r.Body)
			}
		}
	}
}

// cvDanglingFixture holds references from flows to connectors and providers
// in a workforce tenant (b2x flow) and the B2C tenant (b2c flow).
type cvDanglingFixture struct {
	*ufEnv
	wfConn, b2cConn     string // connectors used by the flows
	wfFlow, b2cFlow     string
	wfGoogle, b2cAmazon string // providers the flows offer
}

func newCVDanglingFixture(t *testing.T) *cvDanglingFixture {
	e := newUFEnv(t)
	s := e.s
	f := &cvDanglingFixture{ufEnv: e}
	f.wfConn = ufCreateConnector(t, s, e.wfTok, "wf-used")
	f.b2cConn = ufCreateConnector(t, s, e.b2cTok, "b2c-used")
	f.wfGoogle = ufCreateSocial(t, s, e.wfTok, "Google")
	f.b2cAmazon = ufCreateSocial(t, s, e.b2cTok, "Amazon")
	f.wfFlow = ufCreateFlow(t, s, e.wfTok, "v1.0", "b2xUserFlows", ufFlowBody("Dangle", "signUpOrSignIn", 1,
		"apiConnectorConfiguration", map[string]any{"postAttributeCollection": map[string]any{"@odata.id": ufConnectorURL("v1.0", f.wfConn)}},
		"identityProviders", []any{map[string]any{"id": f.wfGoogle}}))
	f.b2cFlow = ufCreateFlow(t, s, e.b2cTok, "beta", "b2cUserFlows", ufFlowBody("Dangle", "signUpOrSignIn", 1,
		"apiConnectorConfiguration", map[string]any{"preTokenIssuance": map[string]any{"@odata.id": ufConnectorURL("beta", f.b2cConn)}},
		"identityProviders", []any{map[string]any{"id": f.b2cAmazon}}))
	return f
}

func TestDanglingConnectorDelete(t *testing.T) {
	f := newCVDanglingFixture(t)
	s := f.s
	for _, tc := range []struct {
		tok, conn, flow, coll, version, step string
	}{
		{f.wfTok, f.wfConn, f.wfFlow, "b2xUserFlows", "v1.0", "postAttributeCollection"},
		{f.b2cTok, f.b2cConn, f.b2cFlow, "b2cUserFlows", "beta", "preTokenIssuance"},
	} {
		for _, v := range cvVersions {
			for _, id := range []string{tc.conn, strings.ToUpper(tc.conn)} {
				ufReject(t, s, request{Method: "DELETE", Path: "/" + v + "/identity/apiConnectors/" + id, Token: tc.tok},
					http.StatusBadRequest, "Request_BadRequest", tc.flow)
			}
			// The If-Match of the connector does not get past the check.
			g := ufExpect(t, s, request{Method: "GET", Path: "/" + v + "/identity/apiConnectors/" + tc.conn, Token: tc.tok}, http.StatusOK)
			ufReject(t, s, request{Method: "DELETE", Path: "/" + v + "/identity/apiConnectors/" + tc.conn, Token: tc.tok,
				Header: map[string]string{"If-Match": g.Header.Get("ETag")}}, http.StatusBadRequest, "Request_BadRequest", tc.flow)
		}
		// The flow still calls its connector.
		r := ufExpect(t, s, request{Method: "GET", Path: "/" + tc.version + "/identity/" + tc.coll + "/" + tc.flow + "/apiConnectorConfiguration/" + tc.step,
			Token: tc.tok}, http.StatusOK)
		if got := ufObject(t, r)["id"]; got != tc.conn {
			t.Errorf("%s %s = %v, want %s", tc.flow, tc.step, got, tc.conn)
		}
		// Detached, the connector can go.
		ufExpect(t, s, request{Method: "PUT", Path: "/" + tc.version + "/identity/" + tc.coll + "/" + tc.flow + "/apiConnectorConfiguration/" + tc.step + "/$ref",
			Token: tc.tok, Body: map[string]any{}}, http.StatusNoContent)
		ufExpect(t, s, request{Method: "DELETE", Path: "/v1.0/identity/apiConnectors/" + tc.conn, Token: tc.tok}, http.StatusNoContent)
		ufReject(t, s, request{Method: "GET", Path: "/v1.0/identity/apiConnectors/" + tc.conn, Token: tc.tok}, http.StatusNotFound, "Request_ResourceNotFound")
	}

	// A connector on several steps of several flows is refused until the
	// last reference is gone; deleting the flow releases it too.
	e := f.ufEnv
	c := ufCreateConnector(t, s, e.wfTok, "shared")
	a := ufCreateFlow(t, s, e.wfTok, "beta", "b2xUserFlows", ufFlowBody("SharedA", "signUpOrSignIn", 1,
		"apiConnectorConfiguration", map[string]any{
			"postFederationSignup": map[string]any{"@odata.id": c}, "preTokenIssuance": map[string]any{"@odata.id": c}}))
	b := ufCreateFlow(t, s, e.wfTok, "v1.0", "b2xUserFlows", ufFlowBody("SharedB", "signUpOrSignIn", 1,
		"apiConnectorConfiguration", map[string]any{"postFederationSignup": map[string]any{"@odata.id": c}}))
	del := request{Method: "DELETE", Path: "/beta/identity/apiConnectors/" + c, Token: e.wfTok}
	r := ufReject(t, s, del, http.StatusBadRequest, "Request_BadRequest")
	if m := ufErrMessage(t, r); !strings.Contains(m, a) && !strings.Contains(m, b) {
		t.Errorf("message %q names neither %s nor %s", m, a, b)
	}
	ufExpect(t, s, request{Method: "PUT", Path: "/beta/identity/b2xUserFlows/" + a + "/apiConnectorConfiguration/postFederationSignup/$ref",
		Token: e.wfTok, Body: map[string]any{}}, http.StatusNoContent)
	ufReject(t, s, del, http.StatusBadRequest, "Request_BadRequest")
	ufExpect(t, s, request{Method: "PUT", Path: "/beta/identity/b2xUserFlows/" + a + "/apiConnectorConfiguration/preTokenIssuance/$ref",
		Token: e.wfTok, Body: map[string]any{}}, http.StatusNoContent)
	ufReject(t, s, del, http.StatusBadRequest, "Request_BadRequest", b)
	ufExpect(t, s, request{Method: "DELETE", Path: "/v1.0/identity/b2xUserFlows/" + b, Token: e.wfTok}, http.StatusNoContent)
	ufExpect(t, s, del, http.StatusNoContent)
}

func TestDanglingProviderDelete(t *testing.T) {
	f := newCVDanglingFixture(t)
	s := f.s
	for _, tc := range []struct {
		tok, provider, flow, coll, version string
	}{
		{f.wfTok, f.wfGoogle, f.wfFlow, "b2xUserFlows", "v1.0"},
		{f.b2cTok, f.b2cAmazon, f.b2cFlow, "b2cUserFlows", "beta"},
	} {
		for _, v := range cvVersions {
			for _, base := range []string{"/" + v + "/identityProviders/", "/" + v + "/identity/identityProviders/"} {
				for _, id := range []string{tc.provider, strings.ToLower(tc.provider)} {
					ufReject(t, s, request{Method: "DELETE", Path: base + id, Token: tc.tok},
						http.StatusBadRequest, "Request_BadRequest", tc.flow)
				}
			}
		}
		// The flow still offers it; both views still show it.
		r := ufExpect(t, s, request{Method: "GET", Path: "/" + tc.version + "/identity/" + tc.coll + "/" + tc.flow + "/identityProviders", Token: tc.tok}, http.StatusOK)
		if d := cmp.Diff([]string{tc.provider}, ufIDs(ufValues(t, r))); d != "" {
			t.Errorf("%s providers (-want +got):\n%s", tc.flow, d)
		}
		ufExpect(t, s, request{Method: "GET", Path: "/v1.0/identityProviders/" + tc.provider, Token: tc.tok}, http.StatusOK)
		ufExpect(t, s, request{Method: "GET", Path: "/v1.0/identity/identityProviders/" + tc.provider, Token: tc.tok}, http.StatusOK)

		ufExpect(t, s, request{Method: "DELETE", Path: "/" + tc.version + "/identity/" + tc.coll + "/" + tc.flow + "/identityProviders/" + tc.provider + "/$ref",
			Token: tc.tok}, http.StatusNoContent)
		ufExpect(t, s, request{Method: "DELETE", Path: "/beta/identity/identityProviders/" + tc.provider, Token: tc.tok}, http.StatusNoContent)
		ufReject(t, s, request{Method: "GET", Path: "/beta/identityProviders/" + tc.provider, Token: tc.tok}, http.StatusNotFound, "Request_ResourceNotFound")
	}

	// Through the deprecated API after detaching, too.
	e := f.ufEnv
	fb := ufCreateSocial(t, s, e.wfTok, "Facebook")
	ufExpect(t, s, request{Method: "POST", Path: "/beta/identity/b2xUserFlows/" + f.wfFlow + "/identityProviders/$ref", Token: e.wfTok,
		Body: map[string]any{"@odata.id": ufGraphRoot + "/beta/identity/identityProviders/" + fb}}, http.StatusNoContent)
	ufReject(t, s, request{Method: "DELETE", Path: "/v1.0/identityProviders/" + fb, Token: e.wfTok}, http.StatusBadRequest, "Request_BadRequest", f.wfFlow)
	ufExpect(t, s, request{Method: "DELETE", Path: "/v1.0/identity/b2xUserFlows/" + f.wfFlow + "/identityProviders/" + fb + "/$ref", Token: e.wfTok}, http.StatusNoContent)
	ufExpect(t, s, request{Method: "DELETE", Path: "/v1.0/identityProviders/" + fb, Token: e.wfTok}, http.StatusNoContent)
}

// cvCheckNoDangling asserts that every reference of every stored flow of
// tenant names a stored object.
func cvCheckNoDangling(t *testing.T, s *testServer, tenant string) {
	t.Helper()
	ctx := context.Background()
	flows, err := store.ListAs[graph.UserFlow](ctx, s.Store, tenant, store.UserFlows)
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range flows {
		for step, cid := range fl.Value.APIConnectors {
			if _, err := s.Store.Get(ctx, tenant, store.APIConnectors, cid); err != nil {
				t.Errorf("flow %s step %s references connector %s: %v", fl.Value.ID, step, cid, err)
			}
		}
		for _, pid := range fl.Value.IdentityProviders {
			if _, err := s.Store.Get(ctx, tenant, store.IdentityProviders, pid); err != nil {
				t.Errorf("flow %s offers provider %s: %v", fl.Value.ID, pid, err)
			}
		}
	}
}

// TestDanglingConcurrentAttachDelete races attaching a connector to a flow
// step against deleting that connector: exactly one of the two may win, and
// no flow may end up calling a connector that is gone.
func TestDanglingConcurrentAttachDelete(t *testing.T) {
	e := newUFEnv(t)
	s := e.s
	const flows, rounds = 8, 6
	var ids []string
	for i := range flows {
		ids = append(ids, ufCreateFlow(t, s, e.wfTok, cvVersions[i%2], "b2xUserFlows", ufFlowBody(fmt.Sprintf("Race%d", i), "signUpOrSignIn", 1)))
	}
	steps := []string{"postFederationSignup", "postAttributeCollection"}
	var bothWon, attachWon, deleteWon int
	for round := range rounds {
		conns := make([]string, flows)
		for i := range flows {
			conns[i] = ufCreateConnector(t, s, e.wfTok, fmt.Sprintf("race-%d-%d", round, i))
		}
		type outcome struct{ attach, del response }
		out := make([]outcome, flows)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range flows {
			v := cvVersions[(i+round)%2]
			step := steps[(i+round)%2]
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				out[i].attach = s.do(request{Method: "PUT", Path: "/" + v + "/identity/b2xUserFlows/" + ids[i] + "/apiConnectorConfiguration/" + step + "/$ref",
					Token: e.wfTok, Body: map[string]any{"@odata.id": ufConnectorURL(v, conns[i])}})
			}()
			go func() {
				defer wg.Done()
				<-start
				out[i].del = s.do(request{Method: "DELETE", Path: "/" + cvOther(v) + "/identity/apiConnectors/" + conns[i], Token: e.wfTok})
			}()
		}
		close(start)
		wg.Wait()
		for i, o := range out {
			a, d := o.attach.Status, o.del.Status
			switch {
			case a == http.StatusNoContent && d == http.StatusBadRequest:
				attachWon++
				if !strings.Contains(string(o.del.Body), ids[i]) {
					t.Errorf("round %d flow %s: refused delete does not name the flow: %s", round, ids[i], o.del.Body)
				}
			case a == http.StatusBadRequest && d == http.StatusNoContent:
				deleteWon++
			case a == http.StatusNoContent && d == http.StatusNoContent:
				bothWon++
			default:
				t.Errorf("round %d flow %s: attach %d %s, delete %d %s", round, ids[i], a, o.attach.Body, d, o.del.Body)
			}
		}
		cvCheckNoDangling(t, s, e.wf.ID)
		if t.Failed() {
			break
		}
		// Detach everything for the next round.
		for i := range flows {
			for _, step := range steps {
				ufExpect(t, s, request{Method: "PUT", Path: "/beta/identity/b2xUserFlows/" + ids[i] + "/apiConnectorConfiguration/" + step + "/$ref",
					Token: e.wfTok, Body: map[string]any{}}, http.StatusNoContent)
			}
		}
	}
	t.Logf("attach won %d, delete won %d, both won %d", attachWon, deleteWon, bothWon)
	if bothWon > 0 {
		t.Errorf("%d attach/delete pairs both succeeded: a flow step was left calling a deleted connector", bothWon)
	}
}

// TestDanglingConcurrentProviderAddDelete races adding a provider to a flow
// against deleting the provider through either API.
func TestDanglingConcurrentProviderAddDelete(t *testing.T) {
	e := newUFEnv(t)
	s := e.s
	types := []string{"Microsoft", "Google", "Amazon", "LinkedIn", "Facebook", "GitHub", "Twitter", "Weibo", "QQ", "WeChat"}
	var flows []string
	for i := range types {
		flows = append(flows, ufCreateFlow(t, s, e.b2cTok, "beta", "b2cUserFlows", ufFlowBody(fmt.Sprintf("Race%d", i), "signUp", 1)))
	}
	const rounds = 4
	var bothWon, addWon, deleteWon int
	for round := range rounds {
		for _, typ := range types {
			ufCreateSocial(t, s, e.b2cTok, typ)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		adds := make([]response, len(types))
		dels := make([]response, len(types))
		for i, typ := range types {
			pid := typ + "-OAUTH"
			delPath := []string{"/v1.0/identityProviders/", "/beta/identity/identityProviders/", "/beta/identityProviders/", "/v1.0/identity/identityProviders/"}[(i+round)%4]
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				adds[i] = s.do(request{Method: "POST", Path: "/beta/identity/b2cUserFlows/" + flows[i] + "/identityProviders/$ref", Token: e.b2cTok,
					Body: map[string]any{"@odata.id": ufGraphRoot + "/beta/identity/identityProviders/" + pid}})
			}()
			go func() {
				defer wg.Done()
				<-start
				dels[i] = s.do(request{Method: "DELETE", Path: delPath + pid, Token: e.b2cTok})
			}()
		}
		close(start)
		wg.Wait()
		for i := range types {
			a, d := adds[i].Status, dels[i].Status
			switch {
			case a == http.StatusNoContent && d == http.StatusBadRequest:
				addWon++
			case a == http.StatusBadRequest && d == http.StatusNoContent:
				deleteWon++
			case a == http.StatusNoContent && d == http.StatusNoContent:
				bothWon++
			default:
				t.Errorf("round %d %s: add %d %s, delete %d %s", round, types[i], a, adds[i].Body, d, dels[i].Body)
			}
		}
		cvCheckNoDangling(t, s, s.Tenant.ID)
		if t.Failed() {
			break
		}
		// Clean up: detach and delete what is left.
		for i, typ := range types {
			pid := typ + "-OAUTH"
			fl, _ := ufStoredFlow(t, s, s.Tenant.ID, flows[i])
			if slices.Contains(fl.IdentityProviders, pid) {
				ufExpect(t, s, request{Method: "DELETE", Path: "/beta/identity/b2cUserFlows/" + flows[i] + "/identityProviders/" + pid + "/$ref",
					Token: e.b2cTok}, http.StatusNoContent)
			}
			if r := s.do(request{Method: "DELETE", Path: "/beta/identity/identityProviders/" + pid, Token: e.b2cTok}); r.Status != http.StatusNoContent && r.Status != http.StatusNotFound {
				t.Fatalf("cleanup delete %s: %d %s", pid, r.Status, r.Body)
			}
		}
	}
	t.Logf("add won %d, delete won %d, both won %d", addWon, deleteWon, bothWon)
	if bothWon > 0 {
		t.Errorf("%d add/delete pairs both succeeded", bothWon)
	}
}
