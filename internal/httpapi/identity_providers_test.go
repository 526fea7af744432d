package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/idgraph/idgraph/internal/graph"
)

// Validation of the current /identity/identityProviders API per subtype and
// tenant kind, and secrets: every rejection names the problem and changes
// nothing; no response, log line or stored document shows a secret.

// ipDel as a value in ipWith removes the member.
type ipDelMarker struct{}

var ipDel = ipDelMarker{}

// ipWith returns a deep copy of m with dotted name/value pairs set (or
// removed): "claimsMapping.userId" reaches into the nested object.
func ipWith(m map[string]any, kv ...any) map[string]any {
	var out map[string]any
	b, _ := json.Marshal(m)
	json.Unmarshal(b, &out)
	for i := 0; i+1 < len(kv); i += 2 {
		var path []string
		parts := strings.Split(kv[i].(string), ".")
		for j := 0; j < len(parts); j++ {
			if parts[j] == "@odata" && j+1 < len(parts) { // "@odata.type" is one member
				path = append(path, "@odata."+parts[j+1])
				j++
				continue
			}
			path = append(path, parts[j])
		}
		cur := out
		for _, k := range path[:len(path)-1] {
			next, _ := cur[k].(map[string]any)
			if next == nil {
				next = map[string]any{}
				cur[k] = next
			}
			cur = next
		}
		last := path[len(path)-1]
		if _, ok := kv[i+1].(ipDelMarker); ok {
			delete(cur, last)
			continue
		}
		cur[last] = kv[i+1]
	}
	return out
}

func ipSocialBody(typ, secret string) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": typ + " sign-in",
		"identityProviderType": typ, "clientId": "client-" + typ, "clientSecret": secret}
}

func ipAppleBody(cert string) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.appleManagedIdentityProvider", "displayName": "Sign in with Apple",
		"developerId": "UBF8T346G9", "serviceId": "com.contoso.app", "keyId": "99P6D879C4", "certificateData": cert}
}

func ipOIDCBody(secret string) map[string]any {
	return map[string]any{
		"@odata.type":       "#microsoft.graph.oidcIdentityProvider",
		"displayName":       "Contoso OIDC",
		"clientId":          "oidc-client",
		"issuer":            "https://idp.contoso.example/tenant",
		"wellKnownEndpoint": "https://idp.contoso.example/tenant/.well-known/openid-configuration",
		"responseType":      "code",
		"scope":             "openid profile email",
		"clientAuthentication": map[string]any{
			"@odata.type": "#microsoft.graph.oidcClientSecretAuthentication", "clientSecret": secret},
		"inboundClaimMapping": map[string]any{
			"sub": "sub", "name": "name", "given_name": "given_name", "family_name": "family_name", "email": "email",
			"email_verified": "email_verified", "phone_number": "phone_number", "phone_number_verified": "phone_number_verified",
			"address": map[string]any{"street_address": "street_address", "locality": "locality", "region": "region",
				"postal_code": "postal_code", "country": "country"},
		},
	}
}

// ipEnv is a server with one tenant of each kind.
type ipEnv struct {
	s                   *testServer
	b2c, wf, ext        string // admin tokens
	wfTenant, extTenant graph.Tenant
}

func newIPEnv(t *testing.T) *ipEnv {
	t.Helper()
	s := newServer(t)
	wf := s.newTenant(graph.TenantWorkforce, "")
	ext := s.newTenant(graph.TenantExternal, "")
	return &ipEnv{s: s, b2c: s.adminToken(s.Tenant.ID), wf: s.adminToken(wf.ID), ext: s.adminToken(ext.ID), wfTenant: wf, extTenant: ext}
}

// ipCase is a request the server must refuse with 400 Request_BadRequest,
// naming msg.
type ipCase struct {
	name     string
	tok      string
	versions []string // both when nil
	body     any
	msg      string
}

func TestIdentityProviderCreateValidation(t *testing.T) {
	e := newIPEnv(t)
	s := e.s
	social := ipSocialBody("Amazon", "ip-social-secret")
	apple := ipAppleBody("ip-apple-key")
	oidc := ipOIDCBody("ip-oidc-secret")
	oic := cvOpenIDConnectBody("Contoso", "oic-client", "ip-oic-secret")
	beta := []string{"beta"}
	long := strings.Repeat("x", 2049)
	cases := []ipCase{
		// The type decides everything: it must be a concrete, known subtype.
		{"no @odata.type", e.b2c, nil, ipWith(social, "@odata.type", ipDel), "@odata.type"},
		{"abstract identityProviderBase", e.b2c, nil, ipWith(social, "@odata.type", "#microsoft.graph.identityProviderBase"), "identityProviderBase"},
		{"abstract identityProviderBase, no #", e.b2c, nil, ipWith(social, "@odata.type", "microsoft.graph.identityproviderbase"), "identityProviderBase"},
		{"deprecated identityProvider type", e.b2c, nil, ipWith(social, "@odata.type", "#microsoft.graph.identityProvider"), "identityProvider"},
		{"unknown type", e.b2c, nil, ipWith(social, "@odata.type", "#microsoft.graph.samlOrWsFedProvider"), "samlOrWsFedProvider"},
		{"@odata.type not a string", e.b2c, nil, ipWith(social, "@odata.type", 1), "@odata.type"},
		{"id sent", e.b2c, nil, ipWith(social, "id", "Amazon-OAUTH"), "id"},
		{"not an object", e.b2c, nil, "[]", ""},

		// Built-in providers cannot be created, in any tenant kind.
		{"builtIn in workforce", e.wf, nil, map[string]any{"@odata.type": "#microsoft.graph.builtInIdentityProvider",
			"displayName": "MSA", "identityProviderType": "MicrosoftAccount"}, "uilt-in"},
		{"builtIn in external", e.ext, nil, map[string]any{"@odata.type": "#microsoft.graph.builtInIdentityProvider",
			"displayName": "Email", "identityProviderType": "EmailOTP"}, "uilt-in"},
		{"builtIn in b2c", e.b2c, nil, map[string]any{"@odata.type": "microsoft.graph.BUILTINIDENTITYPROVIDER", "displayName": "x"}, "uilt-in"},

		// socialIdentityProvider.
		{"social no displayName", e.b2c, nil, ipWith(social, "displayName", ipDel), "displayName"},
		{"social empty displayName", e.b2c, nil, ipWith(social, "displayName", "  "), "displayName"},
		{"social no identityProviderType", e.b2c, nil, ipWith(social, "identityProviderType", ipDel), "identityProviderType"},
		{"social no clientId", e.b2c, nil, ipWith(social, "clientId", ipDel), "clientId"},
		{"social empty clientId", e.b2c, nil, ipWith(social, "clientId", ""), "clientId"},
		{"social no clientSecret", e.b2c, nil, ipWith(social, "clientSecret", ipDel), "clientSecret"},
		{"social empty clientSecret", e.b2c, nil, ipWith(social, "clientSecret", ""), "clientSecret"},
		{"social masked clientSecret", e.b2c, nil, ipWith(social, "clientSecret", "******"), "clientSecret"},
		{"social displayName not a string", e.b2c, nil, ipWith(social, "displayName", 5), "displayName"},
		{"social clientId not a string", e.b2c, nil, ipWith(social, "clientId", true), "clientId"},
		{"social clientSecret not a string", e.b2c, nil, ipWith(social, "clientSecret", map[string]any{}), "clientSecret"},
		{"social identityProviderType null", e.b2c, nil, ipWith(social, "identityProviderType", nil), "identityProviderType"},
		{"social unknown identityProviderType", e.b2c, nil, ipWith(social, "identityProviderType", "Bogus"), "Bogus"},
		{"social built-in type", e.b2c, nil, ipWith(social, "identityProviderType", "MicrosoftAccount"), "MicrosoftAccount"},
		{"social scope (v1.0 docs; not in the model)", e.b2c, nil, ipWith(social, "scope", "openid"), "scope"},
		{"social unknown property", e.b2c, nil, ipWith(social, "colour", "blue"), "colour"},
		{"social Apple property", e.b2c, nil, ipWith(social, "keyId", "k"), "keyId"},
		{"social clientId too long", e.b2c, nil, ipWith(social, "clientId", strings.Repeat("c", 257)), "clientId"},
		{"social Amazon in workforce", e.wf, nil, social, "Amazon"},
		{"social GitHub in external", e.ext, nil, ipWith(social, "identityProviderType", "GitHub"), "GitHub"},

		// appleManagedIdentityProvider.
		{"apple no displayName", e.b2c, nil, ipWith(apple, "displayName", ipDel), "displayName"},
		{"apple no developerId", e.b2c, nil, ipWith(apple, "developerId", ipDel), "developerId"},
		{"apple no serviceId", e.b2c, nil, ipWith(apple, "serviceId", ipDel), "serviceId"},
		{"apple no keyId", e.b2c, nil, ipWith(apple, "keyId", ipDel), "keyId"},
		{"apple empty keyId", e.b2c, nil, ipWith(apple, "keyId", ""), "keyId"},
		{"apple no certificateData", e.b2c, nil, ipWith(apple, "certificateData", ipDel), "certificateData"},
		{"apple developerId not a string", e.b2c, nil, ipWith(apple, "developerId", 12), "developerId"},
		{"apple certificateData not a string", e.b2c, nil, ipWith(apple, "certificateData", []any{"x"}), "certificateData"},
		{"apple empty certificateData", e.b2c, nil, ipWith(apple, "certificateData", ""), "certificateData"},
		{"apple serviceId too long", e.b2c, nil, ipWith(apple, "serviceId", long), "serviceId"},
		{"apple social property", e.b2c, nil, ipWith(apple, "clientId", "x"), "clientId"},
		{"apple in workforce", e.wf, nil, apple, "appleManagedIdentityProvider"},

		// openIdConnectIdentityProvider: beta, B2C.
		{"openIdConnect in v1.0", e.b2c, []string{"v1.0"}, oic, "openIdConnectIdentityProvider"},
		{"openIdConnect in workforce", e.wf, beta, oic, "openIdConnectIdentityProvider"},
		{"openIdConnect in external", e.ext, beta, oic, "openIdConnectIdentityProvider"},
		{"openIdConnect no displayName", e.b2c, beta, ipWith(oic, "displayName", ipDel), "displayName"},
		{"openIdConnect no clientId", e.b2c, beta, ipWith(oic, "clientId", ipDel), "clientId"},
		{"openIdConnect no metadataUrl", e.b2c, beta, ipWith(oic, "metadataUrl", ipDel), "metadataUrl"},
		{"openIdConnect no scope", e.b2c, beta, ipWith(oic, "scope", ipDel), "scope"},
		{"openIdConnect no responseMode", e.b2c, beta, ipWith(oic, "responseMode", ipDel), "responseMode"},
		{"openIdConnect no responseType", e.b2c, beta, ipWith(oic, "responseType", ipDel), "responseType"},
		{"openIdConnect no claimsMapping", e.b2c, beta, ipWith(oic, "claimsMapping", ipDel), "claimsMapping"},
		{"openIdConnect claimsMapping without userId", e.b2c, beta, ipWith(oic, "claimsMapping.userId", ipDel), "claimsMapping"},
		{"openIdConnect claimsMapping without displayName", e.b2c, beta, ipWith(oic, "claimsMapping.displayName", ipDel), "claimsMapping"},
		{"openIdConnect claimsMapping not an object", e.b2c, beta, ipWith(oic, "claimsMapping", "sub"), "claimsMapping"},
		{"openIdConnect claimsMapping unknown member", e.b2c, beta, ipWith(oic, "claimsMapping.phone", "phone"), "phone"},
		{"openIdConnect code without clientSecret", e.b2c, beta, ipWith(oic, "clientSecret", ipDel), "clientSecret"},
		{"openIdConnect code,id_token without clientSecret", e.b2c, beta, ipWith(oic, "clientSecret", ipDel, "responseType", "code,id_token"), "clientSecret"},
		{"openIdConnect empty clientSecret", e.b2c, beta, ipWith(oic, "clientSecret", ""), "clientSecret"},
		{"openIdConnect metadataUrl http", e.b2c, beta, ipWith(oic, "metadataUrl", "http://login.contoso.example/.well-known/openid-configuration"), "metadataUrl"},
		{"openIdConnect metadataUrl relative", e.b2c, beta, ipWith(oic, "metadataUrl", "/.well-known/openid-configuration"), "metadataUrl"},
		{"openIdConnect metadataUrl not a URL", e.b2c, beta, ipWith(oic, "metadataUrl", "not a url"), "metadataUrl"},
		{"openIdConnect metadataUrl user info", e.b2c, beta, ipWith(oic, "metadataUrl", "https://user:pw@login.contoso.example/x"), "metadataUrl"},
		{"openIdConnect metadataUrl fragment", e.b2c, beta, ipWith(oic, "metadataUrl", "https://login.contoso.example/x#frag"), "metadataUrl"},
		{"openIdConnect metadataUrl no host", e.b2c, beta, ipWith(oic, "metadataUrl", "https:///x"), "metadataUrl"},
		{"openIdConnect metadataUrl not a string", e.b2c, beta, ipWith(oic, "metadataUrl", 1), "metadataUrl"},
		{"openIdConnect responseType unknown", e.b2c, beta, ipWith(oic, "responseType", "bogus"), "responseType"},
		{"openIdConnect responseType twice", e.b2c, beta, ipWith(oic, "responseType", "code,code"), "responseType"},
		{"openIdConnect responseMode unknown", e.b2c, beta, ipWith(oic, "responseMode", "fragment"), "responseMode"},
		{"openIdConnect oidc property", e.b2c, beta, ipWith(oic, "issuer", "https://x.example"), "issuer"},

		// oidcIdentityProvider: external tenants.
		{"oidc in b2c", e.b2c, nil, oidc, "oidcIdentityProvider"},
		{"oidc in workforce", e.wf, nil, oidc, "oidcIdentityProvider"},
		{"oidc no displayName", e.ext, nil, ipWith(oidc, "displayName", ipDel), "displayName"},
		{"oidc no clientId", e.ext, nil, ipWith(oidc, "clientId", ipDel), "clientId"},
		{"oidc no issuer", e.ext, nil, ipWith(oidc, "issuer", ipDel), "issuer"},
		{"oidc no wellKnownEndpoint", e.ext, nil, ipWith(oidc, "wellKnownEndpoint", ipDel), "wellKnownEndpoint"},
		{"oidc no scope", e.ext, nil, ipWith(oidc, "scope", ipDel), "scope"},
		{"oidc no responseType", e.ext, nil, ipWith(oidc, "responseType", ipDel), "responseType"},
		{"oidc no clientAuthentication", e.ext, nil, ipWith(oidc, "clientAuthentication", ipDel), "clientAuthentication"},
		{"oidc no inboundClaimMapping", e.ext, nil, ipWith(oidc, "inboundClaimMapping", ipDel), "inboundClaimMapping"},
		{"oidc issuer http", e.ext, nil, ipWith(oidc, "issuer", "http://idp.contoso.example/tenant"), "issuer"},
		{"oidc issuer with query", e.ext, nil, ipWith(oidc, "issuer", "https://idp.contoso.example/tenant?x=1"), "issuer"},
		{"oidc issuer with fragment", e.ext, nil, ipWith(oidc, "issuer", "https://idp.contoso.example/tenant#x"), "issuer"},
		{"oidc issuer not a URL", e.ext, nil, ipWith(oidc, "issuer", "contoso"), "issuer"},
		{"oidc issuer microsoftonline.com", e.ext, nil, ipWith(oidc, "issuer", "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0"), "microsoftonline.com"},
		{"oidc issuer bare microsoftonline.com", e.ext, nil, ipWith(oidc, "issuer", "https://microsoftonline.com/x"), "microsoftonline.com"},
		{"oidc issuer MicrosoftOnline.COM", e.ext, nil, ipWith(oidc, "issuer", "https://Login.MicrosoftOnline.COM:443/x"), "microsoftonline.com"},
		{"oidc issuer not a string", e.ext, nil, ipWith(oidc, "issuer", nil), "issuer"},
		{"oidc wellKnownEndpoint http", e.ext, nil, ipWith(oidc, "wellKnownEndpoint", "http://idp.contoso.example/.well-known/openid-configuration"), "wellKnownEndpoint"},
		{"oidc wellKnownEndpoint user info", e.ext, nil, ipWith(oidc, "wellKnownEndpoint", "https://a:b@idp.contoso.example/x"), "wellKnownEndpoint"},
		{"oidc wellKnownEndpoint relative", e.ext, nil, ipWith(oidc, "wellKnownEndpoint", ".well-known/openid-configuration"), "wellKnownEndpoint"},
		{"oidc responseType id_token", e.ext, nil, ipWith(oidc, "responseType", "id_token"), "responseType"},
		{"oidc responseType token", e.ext, nil, ipWith(oidc, "responseType", "token"), "responseType"},
		{"oidc responseType code,id_token", e.ext, nil, ipWith(oidc, "responseType", "code,id_token"), "responseType"},
		{"oidc responseType not a string", e.ext, nil, ipWith(oidc, "responseType", []any{"code"}), "responseType"},
		{"oidc clientAuthentication without type", e.ext, nil, ipWith(oidc, "clientAuthentication.@odata.type", ipDel), "clientAuthentication"},
		{"oidc clientAuthentication abstract", e.ext, nil, ipWith(oidc, "clientAuthentication.@odata.type", "#microsoft.graph.oidcClientAuthentication"), "clientAuthentication"},
		{"oidc clientAuthentication basic", e.ext, nil, ipWith(oidc, "clientAuthentication.@odata.type", "#microsoft.graph.basicAuthentication"), "clientAuthentication"},
		{"oidc client secret auth without secret", e.ext, nil, ipWith(oidc, "clientAuthentication.clientSecret", ipDel), "clientSecret"},
		{"oidc client secret auth empty secret", e.ext, nil, ipWith(oidc, "clientAuthentication.clientSecret", ""), "clientSecret"},
		{"oidc private key auth with secret", e.ext, nil, ipWith(oidc, "clientAuthentication.@odata.type", "#microsoft.graph.oidcPrivateJwtKeyClientAuthentication"), "clientSecret"},
		{"oidc clientAuthentication unknown member", e.ext, nil, ipWith(oidc, "clientAuthentication.clientId", "x"), "clientId"},
		{"oidc clientAuthentication not an object", e.ext, nil, ipWith(oidc, "clientAuthentication", "secret"), "clientAuthentication"},
		{"oidc inboundClaimMapping not an object", e.ext, nil, ipWith(oidc, "inboundClaimMapping", "sub"), "inboundClaimMapping"},
		{"oidc inboundClaimMapping unknown member", e.ext, nil, ipWith(oidc, "inboundClaimMapping.nickname", "nick"), "nickname"},
		{"oidc inboundClaimMapping member not a string", e.ext, nil, ipWith(oidc, "inboundClaimMapping.sub", 1), "sub"},
		{"oidc address unknown member", e.ext, nil, ipWith(oidc, "inboundClaimMapping.address.planet", "earth"), "planet"},
		{"oidc openIdConnect property", e.ext, nil, ipWith(oidc, "metadataUrl", "https://idp.contoso.example/m"), "metadataUrl"},
		{"oidc clientSecret at the top", e.ext, nil, ipWith(oidc, "clientSecret", "x"), "clientSecret"},
	}
	for _, tc := range cases {
		vs := tc.versions
		if vs == nil {
			vs = cvVersions
		}
		for _, v := range vs {
			t.Run(v+" "+tc.name, func(t *testing.T) {
				var msg []string
				if tc.msg != "" {
					msg = append(msg, tc.msg)
				}
				r := ipReject(t, s, request{Method: "POST", Path: "/" + v + "/identity/identityProviders", Token: tc.tok, Body: tc.body}, msg...)
				ufNoSecrets(t, "error", r.Body, "ip-social-secret", "ip-apple-key", "ip-oidc-secret", "ip-oic-secret")
			})
		}
	}

	// The valid bodies are accepted (so the rejections above are about the
	// one thing each changes), with the documented id formats.
	ipCreated(t, s, e.b2c, "v1.0", social, "Amazon-OAUTH")
	ipCreated(t, s, e.b2c, "beta", ipWith(social, "identityProviderType", "linkedin"), "LinkedIn-OAUTH")
	ipCreated(t, s, e.b2c, "v1.0", apple, "Apple-Managed-OIDC")
	ipCreated(t, s, e.ext, "beta", apple, "Apple-Managed-OIDC")
	ipCreated(t, s, e.b2c, "beta", oic, "Contoso-OIDC-oic-client")
	ipCreated(t, s, e.b2c, "beta", ipWith(oic, "displayName", "Implicit", "responseType", "id_token", "clientSecret", ipDel), "Implicit-OIDC-oic-client")
	ipCreated(t, s, e.wf, "v1.0", ipWith(social, "identityProviderType", "Google"), "Google-OAUTH")
	ipCreated(t, s, e.ext, "beta", ipWith(social, "identityProviderType", "Facebook"), "Facebook-OAUTH")
	for _, v := range cvVersions {
		id := ipCreated(t, s, e.ext, v, oidc, "")
		if len(id) != 36 || strings.Count(id, "-") != 4 {
			t.Errorf("oidc id %q is not a GUID", id)
		}
	}
	ipCreated(t, s, e.ext, "v1.0", ipWith(oidc, "displayName", "Private key", "clientAuthentication",
		map[string]any{"@odata.type": "microsoft.graph.OIDCPRIVATEJWTKEYCLIENTAUTHENTICATION"}), "")
	// A second provider of a type is a conflict, and changes nothing.
	ufReject(t, s, request{Method: "POST", Path: "/beta/identity/identityProviders", Token: e.b2c, Body: social},
		http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue", "Amazon-OAUTH")
	ufReject(t, s, request{Method: "POST", Path: "/beta/identity/identityProviders", Token: e.b2c, Body: ipWith(apple, "keyId", "other")},
		http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue", "Apple-Managed-OIDC")
}

// ipReject is ufReject for a create that must answer 400 Request_BadRequest.
// Should the server accept it, the test fails and the provider is deleted
// again, so that one wrong acceptance does not fail the cases after it.
func ipReject(t *testing.T, s *testServer, req request, msg ...string) response {
	t.Helper()
	before := ufSnapshot(t, s)
	r := s.do(req)
	if r.Status == http.StatusCreated {
		id, _ := ufObject(t, r)["id"].(string)
		s.do(request{Method: "DELETE", Path: "/beta/identity/identityProviders/" + id, Token: req.Token})
		t.Errorf("%s %s: accepted (201), want 400 Request_BadRequest naming %q; body %s", req.Method, req.Path, msg, r.Body)
		return r
	}
	checkError(t, r, http.StatusBadRequest, "Request_BadRequest")
	m := strings.ToLower(ufErrMessage(t, r))
	for _, want := range msg {
		if !strings.Contains(m, strings.ToLower(want)) {
			t.Errorf("%s %s: error message %q does not contain %q", req.Method, req.Path, m, want)
		}
	}
	if d := cmp.Diff(before, ufSnapshot(t, s)); d != "" {
		t.Errorf("a rejected %s %s changed the store (-before +after):\n%s", req.Method, req.Path, d)
	}
	return r
}

// ipCreated creates a provider and checks its id (any when want is "").
func ipCreated(t *testing.T, s *testServer, tok, v string, body map[string]any, want string) string {
	t.Helper()
	r := ufExpect(t, s, request{Method: "POST", Path: "/" + v + "/identity/identityProviders", Token: tok, Body: body}, http.StatusCreated)
	m := ufObject(t, r)
	id, _ := m["id"].(string)
	if want != "" && id != want {
		t.Errorf("created id %q, want %q", id, want)
	}
	typ, _ := body["@odata.type"].(string)
	if got, _ := m["@odata.type"].(string); !strings.EqualFold(got, typ) && !strings.EqualFold(got, "#"+typ) {
		t.Errorf("created @odata.type %q, sent %q", got, typ)
	}
	if got := m["displayName"]; got != body["displayName"] {
		t.Errorf("created displayName %v, sent %v", got, body["displayName"])
	}
	return id
}

func TestIdentityProviderUpdateValidation(t *testing.T) {
	e := newIPEnv(t)
	s := e.s
	ipCreated(t, s, e.b2c, "v1.0", ipSocialBody("Amazon", "ip-social-secret"), "Amazon-OAUTH")
	ipCreated(t, s, e.b2c, "v1.0", ipAppleBody("ip-apple-key"), "Apple-Managed-OIDC")
	oicID := ipCreated(t, s, e.b2c, "beta", cvOpenIDConnectBody("Contoso", "oic-client", "ip-oic-secret"), "")
	oidcID := ipCreated(t, s, e.ext, "v1.0", ipOIDCBody("ip-oidc-secret"), "")
	implicitID := ipCreated(t, s, e.b2c, "beta", ipWith(cvOpenIDConnectBody("Implicit", "oic-client", ""), "responseType", "id_token", "clientSecret", ipDel), "")
	type upd struct {
		name     string
		tok      string
		versions []string
		id       string
		body     any
		msg      string
	}
	beta := []string{"beta"}
	cases := []upd{
		{"social displayName not a string", e.b2c, nil, "Amazon-OAUTH", map[string]any{"displayName": 1}, "displayName"},
		{"social empty displayName", e.b2c, nil, "Amazon-OAUTH", map[string]any{"displayName": ""}, "displayName"},
		{"social empty clientId", e.b2c, nil, "Amazon-OAUTH", map[string]any{"clientId": " "}, "clientId"},
		{"social empty clientSecret", e.b2c, nil, "Amazon-OAUTH", map[string]any{"clientSecret": ""}, "clientSecret"},
		{"social type change", e.b2c, nil, "Amazon-OAUTH", map[string]any{"identityProviderType": "Google"}, "identityProviderType"},
		{"social unknown property", e.b2c, nil, "Amazon-OAUTH", map[string]any{"colour": "blue"}, "colour"},
		{"social other id", e.b2c, nil, "Amazon-OAUTH", map[string]any{"id": "Google-OAUTH"}, "id"},
		{"social unknown @odata.type", e.b2c, nil, "Amazon-OAUTH", map[string]any{"@odata.type": "#microsoft.graph.user", "displayName": "x"}, "@odata.type"},
		{"social deprecated property", e.b2c, nil, "Amazon-OAUTH", map[string]any{"name": "x"}, "name"},
		{"apple empty keyId", e.b2c, nil, "Apple-Managed-OIDC", map[string]any{"keyId": ""}, "keyId"},
		{"apple social property", e.b2c, nil, "Apple-Managed-OIDC", map[string]any{"clientId": "x"}, "clientId"},
		{"openIdConnect metadataUrl http", e.b2c, beta, oicID, map[string]any{"metadataUrl": "http://x.example/m"}, "metadataUrl"},
		{"openIdConnect responseMode unknown", e.b2c, beta, oicID, map[string]any{"responseMode": "fragment"}, "responseMode"},
		{"openIdConnect code without clientSecret", e.b2c, beta, implicitID, map[string]any{"responseType": "code"}, "clientSecret"},
		{"openIdConnect claimsMapping without userId", e.b2c, beta, oicID, map[string]any{"claimsMapping": map[string]any{"displayName": "name"}}, "claimsMapping"},
		{"oidc issuer microsoftonline.com", e.ext, nil, oidcID, map[string]any{"issuer": "https://login.microsoftonline.com/x/v2.0"}, "microsoftonline.com"},
		{"oidc issuer with query", e.ext, nil, oidcID, map[string]any{"issuer": "https://idp.contoso.example/?a=b"}, "issuer"},
		{"oidc wellKnownEndpoint http", e.ext, nil, oidcID, map[string]any{"wellKnownEndpoint": "http://idp.contoso.example/w"}, "wellKnownEndpoint"},
		{"oidc responseType token", e.ext, nil, oidcID, map[string]any{"responseType": "token"}, "responseType"},
		{"oidc empty scope", e.ext, nil, oidcID, map[string]any{"scope": ""}, "scope"},
		{"oidc secret auth without secret", e.ext, nil, oidcID, map[string]any{"clientAuthentication": map[string]any{
			"@odata.type": "#microsoft.graph.oidcPrivateJwtKeyClientAuthentication", "clientSecret": "x"}}, "clientSecret"},
	}
	for _, tc := range cases {
		vs := tc.versions
		if vs == nil {
			vs = cvVersions
		}
		for _, v := range vs {
			t.Run(v+" "+tc.name, func(t *testing.T) {
				ufReject(t, s, request{Method: "PATCH", Path: "/" + v + "/identity/identityProviders/" + tc.id, Token: tc.tok, Body: tc.body},
					http.StatusBadRequest, "Request_BadRequest", tc.msg)
			})
		}
	}

	// Built-in providers are read-only: PATCH and DELETE answer 400 and
	// change nothing, in both versions, whatever the body.
	for _, tc := range []struct {
		tok string
		ids []string
	}{
		{e.wf, []string{"MSASignup-OAUTH"}},
		{e.ext, []string{"AADSignup-OAUTH", "EmailOtpSignup-OAUTH", "EmailPassword-OAUTH"}},
	} {
		for _, v := range cvVersions {
			for _, id := range tc.ids {
				p := "/" + v + "/identity/identityProviders/" + id
				for _, body := range []any{map[string]any{"displayName": "Renamed"}, map[string]any{}, map[string]any{"@odata.type": "#microsoft.graph.builtInIdentityProvider"}} {
					ufReject(t, s, request{Method: "PATCH", Path: p, Token: tc.tok, Body: body}, http.StatusBadRequest, "Request_BadRequest", id)
				}
				ufReject(t, s, request{Method: "DELETE", Path: p, Token: tc.tok}, http.StatusBadRequest, "Request_BadRequest", id)
				ufReject(t, s, request{Method: "DELETE", Path: strings.ToLower(p), Token: tc.tok}, http.StatusBadRequest, "Request_BadRequest")
				ufExpect(t, s, request{Method: "GET", Path: p, Token: tc.tok}, http.StatusOK)
			}
		}
	}

	// Accepted updates: the docs' Apple example sends the social type; an
	// abstract or matching @odata.type is ignored too.
	ufExpect(t, s, request{Method: "PATCH", Path: "/v1.0/identity/identityProviders/Apple-Managed-OIDC", Token: e.b2c,
		Body: map[string]any{"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "Apple renamed", "keyId": "NEWKEY"}}, http.StatusNoContent)
	r := ufExpect(t, s, request{Method: "GET", Path: "/beta/identity/identityProviders/Apple-Managed-OIDC", Token: e.b2c}, http.StatusOK)
	ufCheckProps(t, "apple", ufObject(t, r), map[string]any{"@odata.type": "#microsoft.graph.appleManagedIdentityProvider",
		"displayName": "Apple renamed", "keyId": "NEWKEY", "developerId": "UBF8T346G9", "certificateData": "******"})
	ufExpect(t, s, request{Method: "PATCH", Path: "/beta/identity/identityProviders/amazon-oauth", Token: e.b2c,
		Body: map[string]any{"@odata.type": "#microsoft.graph.identityProviderBase", "id": "Amazon-OAUTH", "identityProviderType": "AMAZON", "clientId": "c2"}}, http.StatusNoContent)
	ufExpect(t, s, request{Method: "PATCH", Path: "/v1.0/identity/identityProviders/" + oidcID, Token: e.ext,
		Body: map[string]any{"clientAuthentication": map[string]any{"@odata.type": "#microsoft.graph.oidcPrivateJwtKeyClientAuthentication"}}}, http.StatusNoContent)
	r = ufExpect(t, s, request{Method: "GET", Path: "/v1.0/identity/identityProviders/" + oidcID, Token: e.ext}, http.StatusOK)
	if d := cmp.Diff(map[string]any{"@odata.type": "#microsoft.graph.oidcPrivateJwtKeyClientAuthentication"}, ufObject(t, r)["clientAuthentication"]); d != "" {
		t.Errorf("oidc clientAuthentication after PATCH (-want +got):\n%s", d)
	}
	// Switching back to a client secret needs the secret.
	ufReject(t, s, request{Method: "PATCH", Path: "/v1.0/identity/identityProviders/" + oidcID, Token: e.ext,
		Body: map[string]any{"clientAuthentication": map[string]any{"@odata.type": "#microsoft.graph.oidcClientSecretAuthentication"}}},
		http.StatusBadRequest, "Request_BadRequest", "clientSecret")
}

// ipSecrets are the distinct secrets TestIdentityProviderSecretsNeverShown
// writes; none may ever be read back.
var ipSecrets = []string{
	"ip-leak-social-1", "ip-leak-social-2", "ip-leak-apple-1", "ip-leak-apple-2", "ip-leak-oic-1", "ip-leak-oic-2",
	"ip-leak-oidc-1", "ip-leak-oidc-2", "ip-leak-dep-1", "ip-leak-dep-2", "ip-leak-depoic-1",
}

func TestIdentityProviderSecretsNeverShown(t *testing.T) {
	e := newIPEnv(t)
	s := e.s
	var bodies []string
	keep := func(what string, r response) response {
		t.Helper()
		bodies = append(bodies, what+": "+string(r.Body))
		return r
	}
	do := func(req request, status int) response {
		t.Helper()
		return keep(req.Method+" "+req.Path, ufExpect(t, s, req, status))
	}
	rep := map[string]string{"Prefer": "return=representation"}

	// Create each subtype, and one of each through the deprecated API.
	r := do(request{Method: "POST", Path: "/v1.0/identity/identityProviders", Token: e.b2c, Body: ipSocialBody("Amazon", "ip-leak-social-1")}, http.StatusCreated)
	ufCheckProps(t, "social create", ufObject(t, r), map[string]any{"clientSecret": "******"})
	r = do(request{Method: "POST", Path: "/v1.0/identity/identityProviders", Token: e.b2c, Body: ipAppleBody("ip-leak-apple-1")}, http.StatusCreated)
	ufCheckProps(t, "apple create", ufObject(t, r), map[string]any{"certificateData": "******"})
	r = do(request{Method: "POST", Path: "/beta/identity/identityProviders", Token: e.b2c, Body: cvOpenIDConnectBody("Contoso", "oic", "ip-leak-oic-1")}, http.StatusCreated)
	oicID, _ := ufObject(t, r)["id"].(string)
	ufCheckProps(t, "openIdConnect create", ufObject(t, r), map[string]any{"clientSecret": "******"})
	r = do(request{Method: "POST", Path: "/beta/identity/identityProviders", Token: e.ext, Body: ipOIDCBody("ip-leak-oidc-1")}, http.StatusCreated)
	oidcID, _ := ufObject(t, r)["id"].(string)
	ufCheckProps(t, "oidc create", ufObject(t, r), map[string]any{"clientAuthentication": map[string]any{
		"@odata.type": "#microsoft.graph.oidcClientSecretAuthentication", "clientSecret": "*****"}})
	for _, v := range cvVersions {
		typ := map[string]string{"v1.0": "GitHub", "beta": "Twitter"}[v]
		r = do(request{Method: "POST", Path: "/" + v + "/identityProviders", Token: e.b2c, Body: map[string]any{
			"name": typ, "type": typ, "clientId": "c", "clientSecret": "ip-leak-dep-1"}}, http.StatusCreated)
		ufCheckProps(t, v+" deprecated create", ufObject(t, r), map[string]any{"clientSecret": "*****"})
	}
	depOIC := cvOpenIDConnectBody("Fabrikam", "fab", "ip-leak-depoic-1")
	delete(depOIC, "@odata.type")
	delete(depOIC, "displayName")
	depOIC["name"], depOIC["type"] = "Fabrikam", "OpenIDConnect"
	r = do(request{Method: "POST", Path: "/beta/identityProviders", Token: e.b2c, Body: depOIC}, http.StatusCreated)
	ufCheckProps(t, "deprecated openIdConnect create", ufObject(t, r), map[string]any{"clientSecret": "*****"})

	// Change every secret, asking for the representation.
	for _, v := range cvVersions {
		r = do(request{Method: "PATCH", Path: "/" + v + "/identity/identityProviders/Amazon-OAUTH", Token: e.b2c, Header: rep,
			Body: map[string]any{"clientSecret": "ip-leak-social-2"}}, http.StatusOK)
		ufCheckProps(t, v+" social PATCH", ufObject(t, r), map[string]any{"clientSecret": "******"})
		r = do(request{Method: "PATCH", Path: "/" + v + "/identity/identityProviders/Apple-Managed-OIDC", Token: e.b2c, Header: rep,
			Body: map[string]any{"certificateData": "ip-leak-apple-2"}}, http.StatusOK)
		ufCheckProps(t, v+" apple PATCH", ufObject(t, r), map[string]any{"certificateData": "******"})
		r = do(request{Method: "PATCH", Path: "/" + v + "/identity/identityProviders/" + oidcID, Token: e.ext, Header: rep,
			Body: map[string]any{"clientAuthentication": map[string]any{"@odata.type": "#microsoft.graph.oidcClientSecretAuthentication", "clientSecret": "ip-leak-oidc-2"}}}, http.StatusOK)
		ufCheckProps(t, v+" oidc PATCH", ufObject(t, r), map[string]any{"clientAuthentication": map[string]any{
			"@odata.type": "#microsoft.graph.oidcClientSecretAuthentication", "clientSecret": "*****"}})
		r = do(request{Method: "PATCH", Path: "/" + v + "/identityProviders/Amazon-OAUTH", Token: e.b2c, Header: rep,
			Body: map[string]any{"clientSecret": "ip-leak-dep-2"}}, http.StatusOK)
		ufCheckProps(t, v+" deprecated PATCH", ufObject(t, r), map[string]any{"clientSecret": "*****"})
	}
	r = do(request{Method: "PATCH", Path: "/beta/identity/identityProviders/" + oicID, Token: e.b2c, Header: rep,
		Body: map[string]any{"clientSecret": "ip-leak-oic-2"}}, http.StatusOK)
	ufCheckProps(t, "openIdConnect PATCH", ufObject(t, r), map[string]any{"clientSecret": "******"})

	// Rejected writes carrying secrets do not echo them.
	for _, req := range []request{
		{Method: "PATCH", Path: "/v1.0/identity/identityProviders/Amazon-OAUTH", Token: e.b2c, Body: map[string]any{"clientSecret": "ip-leak-social-1", "bogus": 1}},
		{Method: "PATCH", Path: "/v1.0/identity/identityProviders/Amazon-OAUTH", Token: e.b2c, Body: map[string]any{"clientSecret": "ip-leak-social-1", "identityProviderType": "Google"}},
		{Method: "POST", Path: "/v1.0/identity/identityProviders", Token: e.b2c, Body: ipWith(ipAppleBody("ip-leak-apple-1"), "keyId", 1)},
		{Method: "POST", Path: "/beta/identity/identityProviders", Token: e.ext, Body: ipWith(ipOIDCBody("ip-leak-oidc-1"), "issuer", "https://login.microsoftonline.com/x")},
		{Method: "POST", Path: "/beta/identityProviders", Token: e.b2c, Body: map[string]any{"name": "x", "type": "Bogus", "clientId": "c", "clientSecret": "ip-leak-dep-2"}},
	} {
		keep(req.Method+" "+req.Path+" (rejected)", s.do(req))
	}

	// Every read path.
	for _, v := range cvVersions {
		for _, tok := range []string{e.b2c, e.ext} {
			do(request{Method: "GET", Path: "/" + v + "/identity/identityProviders", Token: tok}, http.StatusOK)
			do(request{Method: "GET", Path: "/" + v + "/identityProviders", Token: tok}, http.StatusOK)
		}
		for _, id := range []string{"Amazon-OAUTH", "Apple-Managed-OIDC", "GitHub-OAUTH", "Twitter-OAUTH"} {
			do(request{Method: "GET", Path: "/" + v + "/identity/identityProviders/" + id, Token: e.b2c}, http.StatusOK)
		}
		do(request{Method: "GET", Path: "/" + v + "/identityProviders/Amazon-OAUTH", Token: e.b2c}, http.StatusOK)
		do(request{Method: "GET", Path: "/" + v + "/identity/identityProviders/" + oidcID, Token: e.ext}, http.StatusOK)
	}
	do(request{Method: "GET", Path: "/beta/identity/identityProviders/" + oicID, Token: e.b2c}, http.StatusOK)
	do(request{Method: "GET", Path: "/beta/identityProviders/" + oicID, Token: e.b2c}, http.StatusOK)
	flow := ufCreateFlow(t, s, e.b2c, "beta", "b2cUserFlows", ufFlowBody("Secrets", "signUp", 1,
		"identityProviders", []any{map[string]any{"id": "Amazon-OAUTH"}, map[string]any{"id": oicID}}))
	r = do(request{Method: "GET", Path: "/beta/identity/b2cUserFlows/" + flow + "/identityProviders", Token: e.b2c}, http.StatusOK)
	for _, it := range ufValues(t, r) {
		if it["clientSecret"] != "*****" {
			t.Errorf("flow provider %v: clientSecret %v", it["id"], it["clientSecret"])
		}
	}
	// Masks in lists.
	for _, v := range cvVersions {
		r = do(request{Method: "GET", Path: "/" + v + "/identity/identityProviders", Token: e.b2c}, http.StatusOK)
		for _, it := range ufValues(t, r) {
			if sec, ok := it["clientSecret"]; ok && sec != "******" {
				t.Errorf("%s list %v: clientSecret %v", v, it["id"], sec)
			}
			if c, ok := it["certificateData"]; ok && c != "******" {
				t.Errorf("%s list %v: certificateData %v", v, it["id"], c)
			}
		}
		r = do(request{Method: "GET", Path: "/" + v + "/identityProviders", Token: e.b2c}, http.StatusOK)
		for _, it := range ufValues(t, r) {
			if it["clientSecret"] != "*****" {
				t.Errorf("%s deprecated list %v: clientSecret %v", v, it["id"], it["clientSecret"])
			}
		}
	}

	for _, b := range bodies {
		for _, sec := range ipSecrets {
			if strings.Contains(b, sec) {
				t.Errorf("a response shows the secret %q: %s", sec, b)
			}
		}
	}
	logs := s.Logs.String()
	stored := ""
	for k, v := range ufSnapshot(t, s) {
		stored += k + "=" + v + "\n"
	}
	for _, sec := range ipSecrets {
		if strings.Contains(logs, sec) {
			t.Errorf("the log shows the secret %q", sec)
		}
		if strings.Contains(stored, sec) {
			t.Errorf("the store holds the secret %q in clear", sec)
		}
	}
}
