package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idgraph/idgraph/internal/certinfo/certtest"
	"github.com/idgraph/idgraph/internal/directory"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/secret"
	"github.com/idgraph/idgraph/internal/store"
)

// canNew returns a unique secret nobody else writes: any occurrence of it
// outside a request body is a leak.
func canNew(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "canary-" + hex.EncodeToString(b)
}

// canNeedle is one form of a secret to look for.
type canNeedle struct {
	name string
	b    []byte
}

// canLeakSet holds every secret written, in every form that would reveal it.
type canLeakSet struct {
	t       *testing.T
	needles []canNeedle
	secrets int
}

// add registers secret under name: its bytes, its hex form and its base64
// forms (standard and URL alphabets) at each of the three byte alignments a
// surrounding encoding could give it. Stored JSON carries []byte values as
// base64, so a secret that reached the database unsealed shows up this way.
func (l *canLeakSet) add(name string, secret []byte) {
	l.t.Helper()
	if len(secret) < 12 {
		l.t.Fatalf("secret %s is too short to look for", name)
	}
	l.secrets++
	l.needles = append(l.needles, canNeedle{name, secret}, canNeedle{name + " (hex)", []byte(hex.EncodeToString(secret))})
	for o := range 3 {
		sub := secret[o:]
		sub = sub[:len(sub)/3*3]
		for _, enc := range []struct {
			name string
			e    *base64.Encoding
		}{{"base64", base64.StdEncoding}, {"base64url", base64.URLEncoding}} {
			l.needles = append(l.needles, canNeedle{fmt.Sprintf("%s (%s, offset %d)", name, enc.name, o), []byte(enc.e.EncodeToString(sub))})
		}
	}
}

// addPFX registers a generated PKCS#12 file: its password, its base64 text
// (whole and a distinctive slice) and a distinctive slice of its raw bytes.
func (l *canLeakSet) addPFX(name string, pfx certtest.PFX) {
	l.t.Helper()
	l.add(name+" password", []byte(pfx.Password))
	l.needles = append(l.needles, canNeedle{name + " pkcs12Value (base64 text)", []byte(pfx.Base64)})
	mid := len(pfx.Base64) / 2
	l.needles = append(l.needles, canNeedle{name + " pkcs12Value (base64 slice)", []byte(pfx.Base64[mid : mid+64])})
	raw, err := base64.StdEncoding.DecodeString(pfx.Base64)
	if err != nil {
		l.t.Fatal(err)
	}
	m := len(raw) / 2
	l.add(name+" pkcs12 raw bytes (slice)", raw[m:m+48])
}

// check reports every canNeedle found in data.
func (l *canLeakSet) check(where string, data []byte) int {
	l.t.Helper()
	found := 0
	for _, n := range l.needles {
		if c := bytes.Count(data, n.b); c > 0 {
			found += c
			i := bytes.Index(data, n.b)
			lo, hi := max(0, i-80), min(len(data), i+len(n.b)+80)
			l.t.Errorf("LEAK: %s found %d time(s) in %s; context: %q", n.name, c, where, data[lo:hi])
		}
	}
	return found
}

// canRecorder sends requests and keeps every response for the crawl.
type canRecorder struct {
	s    *testServer
	seen []canRecorded
}

type canRecorded struct {
	label string
	r     response
}

func (rc *canRecorder) do(label string, req request) response {
	rc.s.t.Helper()
	r := rc.s.do(req)
	rc.seen = append(rc.seen, canRecorded{label, r})
	return r
}

// expect sends req and requires status.
func (rc *canRecorder) expect(label string, status int, req request) response {
	rc.s.t.Helper()
	r := rc.do(label, req)
	if r.Status != status {
		rc.s.t.Fatalf("%s: status %d, want %d; body %s", label, r.Status, status, r.Body)
	}
	return r
}

// expectError sends a request that must fail with status and Graph's envelope.
func (rc *canRecorder) expectError(label string, status int, req request) {
	rc.s.t.Helper()
	r := rc.do(label, req)
	if r.Status != status {
		rc.s.t.Errorf("%s: status %d, want %d; body %s", label, r.Status, status, r.Body)
		return
	}
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
		rc.s.t.Errorf("%s: not a Graph error envelope: %s", label, r.Body)
	}
}

func canBasicAuth(username, password string) map[string]any {
	m := map[string]any{"@odata.type": "#microsoft.graph.basicAuthentication", "password": password}
	if username != "" {
		m["username"] = username
	}
	return m
}

func canPKCS12Auth(pfx certtest.PFX) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.pkcs12Certificate", "pkcs12Value": pfx.Base64, "password": pfx.Password}
}

// canMaskStats walks a JSON document and checks every secret-bearing property
// shows the mask its type has (spec §3): basicAuthentication.password,
// socialIdentityProvider and openIdConnectIdentityProvider clientSecret and
// appleManagedIdentityProvider certificateData "******"; the deprecated
// identityProvider and openIdConnectProvider clientSecret and
// oidcClientSecretAuthentication.clientSecret "*****".
type canMaskStats struct {
	passwords     int // basicAuthentication.password
	clientSecrets int // deprecated identityProvider / openIdConnectProvider clientSecret
	currentSecret int // socialIdentityProvider / openIdConnectIdentityProvider clientSecret
	certificates  int // appleManagedIdentityProvider certificateData
	oidcSecrets   int // oidcClientSecretAuthentication.clientSecret
}

// canTypeName is an @odata.type without "#" and namespace, lower case.
func canTypeName(v any) string {
	s, _ := v.(string)
	s = strings.ToLower(strings.TrimPrefix(s, "#"))
	return strings.TrimPrefix(s, "microsoft.graph.")
}

func canCheckMasks(t *testing.T, label string, v any, st *canMaskStats) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		typ := canTypeName(x["@odata.type"])
		if typ == "basicauthentication" {
			if x["password"] != "******" {
				t.Errorf("%s: basicAuthentication.password = %#v, want the mask \"******\"", label, x["password"])
			}
			st.passwords++
		}
		if cs, ok := x["clientSecret"]; ok {
			switch typ {
			case "socialidentityprovider", "openidconnectidentityprovider":
				if cs != "******" {
					t.Errorf("%s: %s.clientSecret = %#v, want the mask \"******\"", label, typ, cs)
				}
				st.currentSecret++
			case "oidcclientsecretauthentication":
				if cs != "*****" {
					t.Errorf("%s: oidcClientSecretAuthentication.clientSecret = %#v, want the mask \"*****\"", label, cs)
				}
				st.oidcSecrets++
			case "", "identityprovider", "openidconnectprovider":
				if cs != "*****" {
					t.Errorf("%s: clientSecret = %#v, want the mask \"*****\"", label, cs)
				}
				st.clientSecrets++
			default:
				t.Errorf("%s: clientSecret %#v on an object of type %q, which has none", label, cs, typ)
			}
		}
		if cd, ok := x["certificateData"]; ok {
			if typ != "applemanagedidentityprovider" || cd != "******" {
				t.Errorf("%s: certificateData = %#v on type %q, want the mask \"******\" on appleManagedIdentityProvider", label, cd, typ)
			}
			st.certificates++
		}
		for k, e := range x {
			if k == "clientSecret" || k == "password" || k == "certificateData" {
				continue
			}
			canCheckMasks(t, label, e, st)
		}
	case []any:
		for _, e := range x {
			canCheckMasks(t, label, e, st)
		}
	}
}

// canReadDataDir returns every regular file of dir (recursively) by name.
func canReadDataDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[path] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// canTenant is a tenant the canary writes in, with its tokens.
type canTenant struct {
	name     string // b2c, external, workforce: for labels
	id       string
	tok      string // may do everything
	readOnly string // IdentityUserFlow.Read.All + IdentityProvider.Read.All
}

// canStored is the secret a provider field must hold when the writes are
// done: the last one written through a path that stores it.
type canStored struct{ tenant, id, field, value string }

// canRead is a GET to crawl once every write is done.
type canRead struct {
	path, tok string
	status    int
}

// canEnv collects what the identity-provider and user-flow parts of the
// canary write and what they want read back.
type canEnv struct {
	t      *testing.T
	s      *testServer
	rec    *canRecorder
	secret func(name string) string
	clear  []string // values stored in clear: the database grep must find them
	stored []canStored
	reads  []canRead
	// ids of the providers each tenant has, by tenant id: those both
	// versions of the current API show, the social ones among them (the
	// deprecated API shows those too), and the beta-only openIdConnect ones.
	providers, social, betaOnly map[string][]string
}

// clearValue returns a unique non-secret value the store keeps in clear.
func (e *canEnv) clearValue(prefix string) string {
	v := canUnique(e.t, prefix)
	e.clear = append(e.clear, v)
	return v
}

// keepClientID records the clientId of a body the server stored.
func (e *canEnv) keepClientID(body map[string]any) {
	e.clear = append(e.clear, body["clientId"].(string))
}

// canUnique returns a unique value that is no secret.
func canUnique(t *testing.T, prefix string) string { return prefix + "-" + canNew(t)[7:] }

// store records value as the secret field of provider id must hold.
func (e *canEnv) store(ten canTenant, id, field, value string) {
	for i, w := range e.stored {
		if w.tenant == ten.id && strings.EqualFold(w.id, id) && w.field == field {
			e.stored[i].value = value
			return
		}
	}
	e.stored = append(e.stored, canStored{ten.id, id, field, value})
}

// provider records a provider of tenant ten for the read crawl.
func (e *canEnv) provider(ten canTenant, id string, typ string) {
	switch typ {
	case graph.TypeOpenIDConnectIdentityProvider:
		e.betaOnly[ten.id] = append(e.betaOnly[ten.id], id)
		return
	case graph.TypeSocialIdentityProvider:
		e.social[ten.id] = append(e.social[ten.id], id)
	}
	e.providers[ten.id] = append(e.providers[ten.id], id)
}

func (e *canEnv) read(tok string, status int, paths ...string) {
	for _, p := range paths {
		e.reads = append(e.reads, canRead{p, tok, status})
	}
}

// createdID is the id of the entity a 201 answered with.
func (e *canEnv) createdID(label string, r response) string {
	e.t.Helper()
	id, _ := r.JSON(e.t)["id"].(string)
	if id == "" {
		e.t.Fatalf("%s: created entity has no id: %s", label, r.Body)
	}
	return id
}

// canPEM wraps a canary as an Apple .p8 key would be sent.
func canPEM(secret string) string {
	return "-----BEGIN PRIVATE KEY-----\n" + secret + "\n-----END PRIVATE KEY-----"
}

func canOIDCSecretAuth(secret string) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.oidcClientSecretAuthentication", "clientSecret": secret}
}

// currentProviders writes secrets through /identity/identityProviders in
// both versions: social providers in every tenant kind, Apple in B2C and
// external tenants, openIdConnect (beta, B2C) and oidc (external), and
// provokes errors with secret-bearing bodies.
func (e *canEnv) currentProviders(b2c, ext, wf canTenant) {
	t, rec := e.t, e.rec
	root := func(v string) string { return "/" + v + "/identity/identityProviders" }

	// Social providers: clientSecret.
	for _, c := range []struct {
		ten           canTenant
		v, typ, odata string
		wantID, other string // the id it gets; another type it cannot change to
	}{
		{b2c, "v1.0", "Google", "#microsoft.graph.socialIdentityProvider", "Google-OAUTH", "Amazon"},
		{b2c, "beta", "LinkedIn", "microsoft.graph.SocialIdentityProvider", "LinkedIn-OAUTH", "Google"},
		{ext, "v1.0", "Google", "#microsoft.graph.socialIdentityProvider", "Google-OAUTH", "Facebook"},
		{ext, "beta", "facebook", "#Microsoft.Graph.socialIdentityProvider", "Facebook-OAUTH", "Google"},
		{wf, "v1.0", "Facebook", "#microsoft.graph.socialIdentityProvider", "Facebook-OAUTH", "Google"},
		{wf, "beta", "Google", "socialIdentityProvider", "Google-OAUTH", "Facebook"},
	} {
		label := fmt.Sprintf("%s %s social %s", c.ten.name, c.v, c.typ)
		cs := e.secret(label + " create")
		r := rec.expect(label+" create", http.StatusCreated, request{Method: "POST", Path: root(c.v), Token: c.ten.tok, Body: map[string]any{
			"@odata.type": c.odata, "displayName": "Canary " + c.typ, "identityProviderType": c.typ, "clientId": e.clearValue("client"), "clientSecret": cs}})
		id := e.createdID(label, r)
		if id != c.wantID {
			t.Errorf("%s: id %q, want %q", label, id, c.wantID)
		}
		e.store(c.ten, id, "clientSecret", cs)
		e.provider(c.ten, id, graph.TypeSocialIdentityProvider)
		etag := r.Header.Get("ETag")
		p := root(c.v) + "/" + id

		cs = e.secret(label + " patch")
		rec.expect(label+" patch (default 204)", http.StatusNoContent, request{Method: "PATCH", Path: p, Token: c.ten.tok,
			Body: map[string]any{"clientSecret": cs}})
		e.store(c.ten, id, "clientSecret", cs)
		cs = e.secret(label + " patch representation")
		rec.expect(label+" patch (return=representation)", http.StatusOK, request{Method: "PATCH", Path: p, Token: c.ten.tok,
			Header: map[string]string{"Prefer": "return=representation"},
			Body:   map[string]any{"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "Canary renamed", "clientSecret": cs}})
		e.store(c.ten, id, "clientSecret", cs)
		cs = e.secret(label + " patch gzip")
		rec.expect(label+" patch (gzip, id echoed, lower-case path)", http.StatusNoContent, request{Method: "PATCH", Path: root(c.v) + "/" + strings.ToLower(id),
			Token: c.ten.tok, Gzip: true, Body: map[string]any{"id": id, "clientSecret": cs}})
		e.store(c.ten, id, "clientSecret", cs)
		// The masks mean "unchanged": the secret stays.
		for _, mask := range []string{"******", "*****"} {
			rec.expect(label+" patch (mask "+mask+")", http.StatusOK, request{Method: "PATCH", Path: p, Token: c.ten.tok,
				Header: map[string]string{"Prefer": "return=representation"}, Body: map[string]any{"clientSecret": mask}})
		}

		rec.expectError(label+" create: conflict", http.StatusConflict, request{Method: "POST", Path: root(c.v), Token: c.ten.tok, Body: map[string]any{
			"@odata.type": c.odata, "displayName": "x", "identityProviderType": c.typ, "clientId": "c", "clientSecret": e.secret(label + " err conflict")}})
		rec.expectError(label+" patch: unknown property", http.StatusBadRequest, request{Method: "PATCH", Path: p, Token: c.ten.tok,
			Body: map[string]any{"bogusProperty": 1, "clientSecret": e.secret(label + " err patch unknown property")}})
		rec.expectError(label+" patch: identityProviderType change", http.StatusBadRequest, request{Method: "PATCH", Path: p, Token: c.ten.tok,
			Body: map[string]any{"identityProviderType": c.other, "clientSecret": e.secret(label + " err type change")}})
		rec.expectError(label+" patch: unknown @odata.type", http.StatusBadRequest, request{Method: "PATCH", Path: p, Token: c.ten.tok,
			Body: map[string]any{"@odata.type": "#microsoft.graph.bogusIdentityProvider", "clientSecret": e.secret(label + " err patch odata.type")}})
		rec.expectError(label+" patch: another id", http.StatusBadRequest, request{Method: "PATCH", Path: p, Token: c.ten.tok,
			Body: map[string]any{"id": "Other-OAUTH", "clientSecret": e.secret(label + " err patch id")}})
		rec.expectError(label+" patch: stale If-Match", http.StatusPreconditionFailed, request{Method: "PATCH", Path: p, Token: c.ten.tok,
			Header: map[string]string{"If-Match": etag}, Body: map[string]any{"clientSecret": e.secret(label + " err stale etag")}})
		rec.expectError(label+" patch: clientSecret not a string", http.StatusBadRequest, request{Method: "PATCH", Path: p, Token: c.ten.tok,
			Body: `{"clientSecret":["` + e.secret(label+" err secret array") + `"]}`})
		rec.expectError(label+" patch: duplicate clientSecret", http.StatusBadRequest, request{Method: "PATCH", Path: p, Token: c.ten.tok,
			Body: `{"clientSecret":"` + e.secret(label+" err duplicate 1") + `","clientSecret":"` + e.secret(label+" err duplicate 2") + `"}`})
		rec.expectError(label+" patch: read-only token", http.StatusForbidden, request{Method: "PATCH", Path: p, Token: c.ten.readOnly,
			Body: map[string]any{"clientSecret": e.secret(label + " err forbidden")}})
		rec.expectError(label+" patch: no token", http.StatusUnauthorized, request{Method: "PATCH", Path: p,
			Body: map[string]any{"clientSecret": e.secret(label + " err no token")}})
	}

	// Apple: certificateData. One per tenant, so each version creates in
	// one tenant and patches in the other.
	for _, c := range []struct {
		ten      canTenant
		v, other string
	}{{b2c, "v1.0", "beta"}, {ext, "beta", "v1.0"}} {
		label := fmt.Sprintf("%s %s apple", c.ten.name, c.v)
		cd := e.secret(label + " create")
		r := rec.expect(label+" create", http.StatusCreated, request{Method: "POST", Path: root(c.v), Token: c.ten.tok, Body: map[string]any{
			"@odata.type": "#microsoft.graph.appleManagedIdentityProvider", "displayName": "Sign in with Apple",
			"developerId": e.clearValue("dev"), "serviceId": "com.example.canary", "keyId": "CANARYKEY1", "certificateData": canPEM(cd)}})
		id := e.createdID(label, r)
		if id != "Apple-Managed-OIDC" {
			t.Errorf("%s: id %q, want Apple-Managed-OIDC", label, id)
		}
		e.store(c.ten, id, "certificateData", canPEM(cd))
		e.provider(c.ten, id, graph.TypeAppleManagedIdentityProvider)
		for _, v := range []string{c.v, c.other} {
			cd = e.secret(label + " patch " + v)
			// The docs' example sends the social type; the stored type decides.
			rec.expect(label+" patch in "+v+" (social @odata.type)", http.StatusNoContent, request{Method: "PATCH", Path: root(v) + "/" + id, Token: c.ten.tok,
				Body: map[string]any{"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "Sign in with Apple", "certificateData": canPEM(cd)}})
			e.store(c.ten, id, "certificateData", canPEM(cd))
			cd = e.secret(label + " patch representation " + v)
			rec.expect(label+" patch in "+v+" (return=representation)", http.StatusOK, request{Method: "PATCH", Path: root(v) + "/" + id, Token: c.ten.tok,
				Header: map[string]string{"Prefer": "return=representation"}, Body: map[string]any{"keyId": "CANARYKEY2", "certificateData": canPEM(cd)}})
			e.store(c.ten, id, "certificateData", canPEM(cd))
			rec.expectError(label+" create in "+v+": second Apple provider", http.StatusConflict, request{Method: "POST", Path: root(v), Token: c.ten.tok, Body: map[string]any{
				"@odata.type": "#microsoft.graph.appleManagedIdentityProvider", "displayName": "Apple again",
				"developerId": "d", "serviceId": "s", "keyId": "k", "certificateData": canPEM(e.secret(label + " err conflict " + v))}})
			rec.expectError(label+" patch in "+v+": unknown property", http.StatusBadRequest, request{Method: "PATCH", Path: root(v) + "/" + id, Token: c.ten.tok,
				Body: map[string]any{"bogusProperty": "x", "certificateData": canPEM(e.secret(label + " err unknown property " + v))}})
			rec.expectError(label+" patch in "+v+": clientSecret is not an Apple property", http.StatusBadRequest, request{Method: "PATCH", Path: root(v) + "/" + id,
				Token: c.ten.tok, Body: map[string]any{"clientSecret": e.secret(label + " err clientSecret on apple " + v)}})
			rec.expectError(label+" patch in "+v+": certificateData not a string", http.StatusBadRequest, request{Method: "PATCH", Path: root(v) + "/" + id,
				Token: c.ten.tok, Body: map[string]any{"certificateData": map[string]any{"value": e.secret(label + " err certificate object " + v)}}})
		}
	}
	for _, v := range []string{"v1.0", "beta"} {
		rec.expectError(wf.name+" "+v+" apple create: unsupported in workforce", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: wf.tok,
			Body: map[string]any{"@odata.type": "#microsoft.graph.appleManagedIdentityProvider", "displayName": "Apple",
				"developerId": "d", "serviceId": "s", "keyId": "k", "certificateData": canPEM(e.secret(wf.name + " " + v + " err apple"))}})
	}

	// openIdConnectIdentityProvider: beta, B2C.
	oidcBody := func(secret string) map[string]any {
		return map[string]any{"@odata.type": "#microsoft.graph.openIdConnectIdentityProvider", "displayName": "Contoso canary",
			"clientId": canUnique(e.t, "oidc-client"), "clientSecret": secret,
			"claimsMapping": map[string]any{"userId": "sub", "displayName": "name", "email": "email"}, "domainHint": "contoso",
			"metadataUrl": "https://canary.example.com/.well-known/openid-configuration", "responseMode": "form_post",
			"responseType": "code", "scope": "openid profile"}
	}
	label := b2c.name + " beta openIdConnect"
	cs := e.secret(label + " create")
	b := oidcBody(cs)
	r := rec.expect(label+" create", http.StatusCreated, request{Method: "POST", Path: root("beta"), Token: b2c.tok, Body: b})
	e.keepClientID(b)
	oicID := e.createdID(label, r)
	e.store(b2c, oicID, "clientSecret", cs)
	e.provider(b2c, oicID, graph.TypeOpenIDConnectIdentityProvider)
	cs = e.secret(label + " patch")
	rec.expect(label+" patch (default 204)", http.StatusNoContent, request{Method: "PATCH", Path: root("beta") + "/" + oicID, Token: b2c.tok,
		Body: map[string]any{"clientSecret": cs}})
	e.store(b2c, oicID, "clientSecret", cs)
	cs = e.secret(label + " patch representation")
	rec.expect(label+" patch (return=representation)", http.StatusOK, request{Method: "PATCH", Path: root("beta") + "/" + oicID, Token: b2c.tok,
		Header: map[string]string{"Prefer": "return=representation"},
		Body: map[string]any{"@odata.type": "openIdConnectIdentityProvider", "claimsMapping": map[string]any{"userId": "oid", "displayName": "name"},
			"responseType": "code,id_token", "clientSecret": cs}})
	e.store(b2c, oicID, "clientSecret", cs)
	rec.expectError(label+" create in v1.0: beta-only type", http.StatusBadRequest, request{Method: "POST", Path: root("v1.0"), Token: b2c.tok,
		Body: oidcBody(e.secret(label + " err v1.0 create"))})
	rec.expectError(label+" patch in v1.0: not found", http.StatusNotFound, request{Method: "PATCH", Path: root("v1.0") + "/" + oicID, Token: b2c.tok,
		Body: map[string]any{"clientSecret": e.secret(label + " err v1.0 patch")}})
	rec.expectError(label+" create in external tenant", http.StatusBadRequest, request{Method: "POST", Path: root("beta"), Token: ext.tok,
		Body: oidcBody(e.secret(label + " err external"))})
	b = oidcBody(e.secret(label + " err unknown claim"))
	b["claimsMapping"] = map[string]any{"userId": "sub", "displayName": "name", "bogusClaim": "x"}
	rec.expectError(label+" create: unknown claimsMapping property", http.StatusBadRequest, request{Method: "POST", Path: root("beta"), Token: b2c.tok, Body: b})
	b = oidcBody(e.secret(label + " err missing metadataUrl"))
	delete(b, "metadataUrl")
	rec.expectError(label+" create: missing metadataUrl", http.StatusBadRequest, request{Method: "POST", Path: root("beta"), Token: b2c.tok, Body: b})
	b = oidcBody(e.secret(label + " err conflict"))
	b["clientId"] = "conflict-client"
	rec.expect(label+" create (for a conflict)", http.StatusCreated, request{Method: "POST", Path: root("beta"), Token: b2c.tok, Body: b})
	e.store(b2c, "Contosocanary-OIDC-conflict-client", "clientSecret", b["clientSecret"].(string))
	e.provider(b2c, "Contosocanary-OIDC-conflict-client", graph.TypeOpenIDConnectIdentityProvider)
	b["clientSecret"] = e.secret(label + " err conflict 2")
	rec.expectError(label+" create: conflict", http.StatusConflict, request{Method: "POST", Path: root("beta"), Token: b2c.tok, Body: b})
	rec.expectError(label+" patch: unknown property", http.StatusBadRequest, request{Method: "PATCH", Path: root("beta") + "/" + oicID, Token: b2c.tok,
		Body: map[string]any{"bogusProperty": 1, "clientSecret": e.secret(label + " err patch unknown property")}})
	rec.expectError(label+" patch: bad responseMode", http.StatusBadRequest, request{Method: "PATCH", Path: root("beta") + "/" + oicID, Token: b2c.tok,
		Body: map[string]any{"responseMode": "fragment", "clientSecret": e.secret(label + " err patch responseMode")}})

	// oidcIdentityProvider: external tenants, clientAuthentication.clientSecret.
	oidcExt := func(v, secret string) map[string]any {
		return map[string]any{"@odata.type": "#microsoft.graph.oidcIdentityProvider", "displayName": "Canary OIDC " + v,
			"clientId": canUnique(e.t, "ext-client"), "issuer": "https://canary.example.com/" + v + "/v2.0/",
			"wellKnownEndpoint": "https://canary.example.com/" + v + "/v2.0/.well-known/openid-configuration",
			"responseType":      "code", "scope": "openid profile", "clientAuthentication": canOIDCSecretAuth(secret),
			"inboundClaimMapping": map[string]any{"sub": "sub", "name": "name", "email_verified": nil, "address": map[string]any{"country": "country"}}}
	}
	for _, v := range []string{"v1.0", "beta"} {
		label := ext.name + " " + v + " oidc"
		cs := e.secret(label + " create")
		b := oidcExt(v, cs)
		r := rec.expect(label+" create", http.StatusCreated, request{Method: "POST", Path: root(v), Token: ext.tok, Body: b})
		e.keepClientID(b)
		id := e.createdID(label, r)
		e.store(ext, id, "clientAuthentication.clientSecret", cs)
		e.provider(ext, id, graph.TypeOIDCIdentityProvider)
		p := root(v) + "/" + id
		cs = e.secret(label + " patch")
		rec.expect(label+" patch (default 204)", http.StatusNoContent, request{Method: "PATCH", Path: p, Token: ext.tok,
			Body: map[string]any{"clientAuthentication": canOIDCSecretAuth(cs)}})
		e.store(ext, id, "clientAuthentication.clientSecret", cs)
		rec.expect(label+" patch (mask keeps the secret)", http.StatusOK, request{Method: "PATCH", Path: p, Token: ext.tok,
			Header: map[string]string{"Prefer": "return=representation"}, Body: map[string]any{"clientAuthentication": canOIDCSecretAuth("*****")}})
		rec.expect(label+" patch (to a private-key JWT)", http.StatusOK, request{Method: "PATCH", Path: p, Token: ext.tok,
			Header: map[string]string{"Prefer": "return=representation"},
			Body:   map[string]any{"clientAuthentication": map[string]any{"@odata.type": "#microsoft.graph.oidcPrivateJwtKeyClientAuthentication"}}})
		cs = e.secret(label + " patch back to a secret")
		rec.expect(label+" patch (back to a client secret, representation)", http.StatusOK, request{Method: "PATCH", Path: p, Token: ext.tok,
			Header: map[string]string{"Prefer": "return=representation"},
			Body:   map[string]any{"@odata.type": "oidcidentityprovider", "scope": "openid", "clientAuthentication": canOIDCSecretAuth(cs)}})
		e.store(ext, id, "clientAuthentication.clientSecret", cs)
		cs = e.secret(label + " patch gzip")
		rec.expect(label+" patch (gzip)", http.StatusNoContent, request{Method: "PATCH", Path: p, Token: ext.tok, Gzip: true,
			Body: map[string]any{"id": id, "clientAuthentication": canOIDCSecretAuth(cs)}})
		e.store(ext, id, "clientAuthentication.clientSecret", cs)

		a := canOIDCSecretAuth(e.secret(label + " err unknown nested"))
		a["bogusNested"] = 1
		b = oidcExt(v, "")
		b["clientAuthentication"] = a
		rec.expectError(label+" create: unknown clientAuthentication property", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: ext.tok, Body: b})
		b = oidcExt(v, "")
		b["clientAuthentication"] = map[string]any{"clientSecret": e.secret(label + " err untyped auth")}
		rec.expectError(label+" create: clientAuthentication without @odata.type", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: ext.tok, Body: b})
		b = oidcExt(v, "")
		b["clientAuthentication"] = map[string]any{"@odata.type": "#microsoft.graph.oidcPrivateJwtKeyClientAuthentication", "clientSecret": e.secret(label + " err jwt with secret")}
		rec.expectError(label+" create: private-key JWT with a clientSecret", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: ext.tok, Body: b})
		b = oidcExt(v, e.secret(label+" err entra issuer"))
		b["issuer"] = "https://login.microsoftonline.com/tenant/v2.0"
		rec.expectError(label+" create: Entra issuer", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: ext.tok, Body: b})
		b = oidcExt(v, e.secret(label+" err responseType"))
		b["responseType"] = "id_token"
		rec.expectError(label+" create: responseType id_token", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: ext.tok, Body: b})
		b = oidcExt(v, e.secret(label+" err unknown property"))
		b["bogusProperty"] = true
		rec.expectError(label+" create: unknown property", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: ext.tok, Body: b})
		rec.expectError(label+" create: in a B2C tenant", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: b2c.tok,
			Body: oidcExt(v, e.secret(label+" err b2c"))})
		rec.expectError(label+" patch: clientAuthentication is a string", http.StatusBadRequest, request{Method: "PATCH", Path: p, Token: ext.tok,
			Body: map[string]any{"clientAuthentication": e.secret(label + " err auth string")}})
		rec.expectError(label+" patch: clientSecret at the top level", http.StatusBadRequest, request{Method: "PATCH", Path: p, Token: ext.tok,
			Body: map[string]any{"clientSecret": e.secret(label + " err top-level secret")}})
		rec.expectError(label+" patch: clientSecret not a string", http.StatusBadRequest, request{Method: "PATCH", Path: p, Token: ext.tok,
			Body: `{"clientAuthentication":{"@odata.type":"#microsoft.graph.oidcClientSecretAuthentication","clientSecret":{"v":"` + e.secret(label+" err secret object") + `"}}}`})
	}

	// Built-in providers are read-only.
	for _, c := range []struct {
		ten canTenant
		id  string
	}{{wf, "MSASignup-OAUTH"}, {ext, "EmailPassword-OAUTH"}, {ext, "AADSignup-OAUTH"}} {
		e.provider(c.ten, c.id, graph.TypeBuiltInIdentityProvider)
		for _, v := range []string{"v1.0", "beta"} {
			rec.expectError(c.ten.name+" "+v+" patch built-in "+c.id, http.StatusBadRequest, request{Method: "PATCH", Path: root(v) + "/" + c.id, Token: c.ten.tok,
				Body: map[string]any{"clientSecret": e.secret(c.ten.name + " " + v + " err built-in " + c.id)}})
		}
	}

	// Bodies rejected before any type-specific decoding.
	for _, v := range []string{"v1.0", "beta"} {
		label := b2c.name + " " + v + " create"
		social := func(name string) map[string]any {
			return map[string]any{"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "x", "identityProviderType": "Weibo",
				"clientId": "c", "clientSecret": e.secret(label + " " + name)}
		}
		b := social("err no odata.type")
		delete(b, "@odata.type")
		rec.expectError(label+": no @odata.type", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: b2c.tok, Body: b})
		b = social("err abstract type")
		b["@odata.type"] = "#microsoft.graph.identityProviderBase"
		rec.expectError(label+": abstract type", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: b2c.tok, Body: b})
		b = social("err unknown type")
		b["@odata.type"] = "#microsoft.graph.user"
		rec.expectError(label+": unknown type", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: b2c.tok, Body: b})
		b = social("err built-in type")
		b["@odata.type"] = "#microsoft.graph.builtInIdentityProvider"
		rec.expectError(label+": built-in type", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: b2c.tok, Body: b})
		b = social("err unknown property")
		b["bogusProperty"] = []int{1}
		rec.expectError(label+": unknown property", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: b2c.tok, Body: b})
		b = social("err read-only id")
		b["id"] = "Weibo-OAUTH"
		rec.expectError(label+": read-only id", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: b2c.tok, Body: b})
		b = social("err unsupported social type")
		b["identityProviderType"] = "MySpace"
		rec.expectError(label+": unsupported identityProviderType", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: b2c.tok, Body: b})
		b = social("err missing clientId")
		delete(b, "clientId")
		rec.expectError(label+": missing clientId", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: b2c.tok, Body: b})
		rec.expectError(label+": social in workforce not supported", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: wf.tok,
			Body: social("err workforce weibo")})
		rec.expectError(label+": read-only token", http.StatusForbidden, request{Method: "POST", Path: root(v), Token: b2c.readOnly, Body: social("err forbidden")})
		rec.expectError(label+": no token", http.StatusUnauthorized, request{Method: "POST", Path: root(v), Body: social("err no token")})
		rec.expectError(label+": not JSON content type", http.StatusUnsupportedMediaType, request{Method: "POST", Path: root(v), Token: b2c.tok,
			Header: map[string]string{"Content-Type": "text/plain"}, Body: social("err content type")})
		rec.expectError(label+": truncated JSON", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: b2c.tok,
			Body: `{"@odata.type":"#microsoft.graph.socialIdentityProvider","clientSecret":"` + e.secret(label+" err truncated")})
		rec.expectError(label+": duplicate clientSecret", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: b2c.tok,
			Body: `{"@odata.type":"#microsoft.graph.socialIdentityProvider","displayName":"x","identityProviderType":"Weibo","clientId":"c","clientSecret":"` +
				e.secret(label+" err duplicate 1") + `","clientSecret":"` + e.secret(label+" err duplicate 2") + `"}`})
		rec.expectError(label+": clientSecret not a string", http.StatusBadRequest, request{Method: "POST", Path: root(v), Token: b2c.tok,
			Body: `{"@odata.type":"#microsoft.graph.socialIdentityProvider","displayName":"x","identityProviderType":"Weibo","clientId":"c","clientSecret":{"s":"` +
				e.secret(label+" err secret object") + `"}}`})
		rec.expectError(label+": patch missing provider", http.StatusNotFound, request{Method: "PATCH", Path: root(v) + "/QQ-OAUTH", Token: b2c.tok,
			Body: map[string]any{"clientSecret": e.secret(label + " err patch missing")}})
	}
}

// deprecatedOpenIDConnect writes secrets through the deprecated beta
// openIdConnectProvider (POST /beta/identityProviders, type OpenIDConnect).
func (e *canEnv) deprecatedOpenIDConnect(b2c, ext canTenant) {
	t, rec := e.t, e.rec
	dep := "/beta/identityProviders"
	body := func(secret string) map[string]any {
		return map[string]any{"name": "Canary deprecated OIDC", "type": "OpenIDConnect", "clientId": canUnique(e.t, "dep-client"), "clientSecret": secret,
			"claimsMapping": map[string]any{"userId": "sub", "displayName": "name"}, "domainHint": "canary",
			"metadataUrl": "https://canary.example.com/dep/.well-known/openid-configuration", "responseMode": "form_post",
			"responseType": "code", "scope": "openid"}
	}
	label := b2c.name + " beta deprecated openIdConnectProvider"
	var ids []string
	for i, odata := range []string{"", "#microsoft.graph.openIdConnectProvider"} {
		cs := e.secret(fmt.Sprintf("%s create %d", label, i))
		b := body(cs)
		if odata != "" {
			b["@odata.type"] = odata
			b["type"] = "openidconnect"
		}
		r := rec.expect(fmt.Sprintf("%s create %d", label, i), http.StatusCreated, request{Method: "POST", Path: dep, Token: b2c.tok, Body: b})
		e.keepClientID(b)
		m := r.JSON(t)
		if m["@odata.type"] != "microsoft.graph.openIdConnectProvider" || m["type"] != "OpenIDConnect" {
			t.Errorf("%s create %d: not an openIdConnectProvider: %s", label, i, r.Body)
		}
		id := e.createdID(label, r)
		e.store(b2c, id, "clientSecret", cs)
		e.provider(b2c, id, graph.TypeOpenIDConnectIdentityProvider)
		ids = append(ids, id)
	}
	a := ids[0]
	cs := e.secret(label + " patch")
	rec.expect(label+" patch (default 204)", http.StatusNoContent, request{Method: "PATCH", Path: dep + "/" + a, Token: b2c.tok,
		Body: map[string]any{"clientSecret": cs}})
	e.store(b2c, a, "clientSecret", cs)
	cs = e.secret(label + " patch representation")
	rec.expect(label+" patch (return=representation)", http.StatusOK, request{Method: "PATCH", Path: dep + "/" + a, Token: b2c.tok,
		Header: map[string]string{"Prefer": "return=representation"},
		Body:   map[string]any{"@odata.type": "microsoft.graph.openIdConnectProvider", "scope": "openid email", "clientSecret": cs}})
	e.store(b2c, a, "clientSecret", cs)
	cs = e.secret(label + " patch gzip")
	rec.expect(label+" patch (gzip)", http.StatusNoContent, request{Method: "PATCH", Path: dep + "/" + strings.ToLower(a), Token: b2c.tok, Gzip: true,
		Body: map[string]any{"type": "OpenIDConnect", "clientSecret": cs}})
	e.store(b2c, a, "clientSecret", cs)
	rec.expect(label+" patch (mask)", http.StatusNoContent, request{Method: "PATCH", Path: dep + "/" + a, Token: b2c.tok,
		Body: map[string]any{"clientSecret": "*****"}})
	// The same provider through the current API, and back.
	cs = e.secret(label + " patch through the current API")
	rec.expect(label+" patch through /beta/identity/identityProviders", http.StatusOK, request{Method: "PATCH", Path: "/beta/identity/identityProviders/" + ids[1],
		Token: b2c.tok, Header: map[string]string{"Prefer": "return=representation"}, Body: map[string]any{"clientSecret": cs}})
	e.store(b2c, ids[1], "clientSecret", cs)
	for _, id := range e.betaOnly[b2c.id] {
		if id == ids[0] || id == ids[1] {
			continue
		}
		cs = e.secret(label + " patch a current-API provider " + id)
		rec.expect(label+" patch "+id+" (created through the current API)", http.StatusOK, request{Method: "PATCH", Path: dep + "/" + id, Token: b2c.tok,
			Header: map[string]string{"Prefer": "return=representation"}, Body: map[string]any{"clientSecret": cs}})
		e.store(b2c, id, "clientSecret", cs)
	}

	rec.expectError(label+" create in v1.0", http.StatusBadRequest, request{Method: "POST", Path: "/v1.0/identityProviders", Token: b2c.tok,
		Body: body(e.secret(label + " err v1.0"))})
	rec.expectError(label+" create in an external tenant", http.StatusBadRequest, request{Method: "POST", Path: dep, Token: ext.tok,
		Body: body(e.secret(label + " err external"))})
	b := body(e.secret(label + " err unknown property"))
	b["bogusProperty"] = 1
	rec.expectError(label+" create: unknown property", http.StatusBadRequest, request{Method: "POST", Path: dep, Token: b2c.tok, Body: b})
	b = body(e.secret(label + " err missing metadataUrl"))
	delete(b, "metadataUrl")
	rec.expectError(label+" create: missing metadataUrl", http.StatusBadRequest, request{Method: "POST", Path: dep, Token: b2c.tok, Body: b})
	b = body(e.secret(label + " err missing name"))
	delete(b, "name")
	rec.expectError(label+" create: missing name", http.StatusBadRequest, request{Method: "POST", Path: dep, Token: b2c.tok, Body: b})
	b = body(e.secret(label + " err conflict"))
	b["clientId"] = "conflict-client"
	b["name"] = "Contoso canary"
	rec.expectError(label+" create: conflict", http.StatusConflict, request{Method: "POST", Path: dep, Token: b2c.tok, Body: b})
	b = body(e.secret(label + " err wrong odata.type"))
	b["@odata.type"] = "#microsoft.graph.socialIdentityProvider"
	rec.expectError(label+" create: current-API @odata.type", http.StatusBadRequest, request{Method: "POST", Path: dep, Token: b2c.tok, Body: b})
	rec.expectError(label+" patch: unknown property", http.StatusBadRequest, request{Method: "PATCH", Path: dep + "/" + a, Token: b2c.tok,
		Body: map[string]any{"bogusProperty": 1, "clientSecret": e.secret(label + " err patch unknown property")}})
	rec.expectError(label+" patch: type change", http.StatusBadRequest, request{Method: "PATCH", Path: dep + "/" + a, Token: b2c.tok,
		Body: map[string]any{"type": "Google", "clientSecret": e.secret(label + " err patch type")}})
	rec.expectError(label+" patch: @odata.type change", http.StatusBadRequest, request{Method: "PATCH", Path: dep + "/" + a, Token: b2c.tok,
		Body: map[string]any{"@odata.type": "#microsoft.graph.user", "clientSecret": e.secret(label + " err patch odata.type")}})
	rec.expectError(label+" patch in v1.0: not found", http.StatusNotFound, request{Method: "PATCH", Path: "/v1.0/identityProviders/" + a, Token: b2c.tok,
		Body: map[string]any{"clientSecret": e.secret(label + " err v1.0 patch")}})
	rec.expectError(label+" patch: bad claimsMapping", http.StatusBadRequest, request{Method: "PATCH", Path: dep + "/" + a, Token: b2c.tok,
		Body: map[string]any{"claimsMapping": map[string]any{"userId": "sub"}, "clientSecret": e.secret(label + " err patch claimsMapping")}})
}

// flowProviderItem is an identityProviders item of a user-flow create body:
// everything but the id is ignored, the clientSecret included.
func (e *canEnv) flowProviderItem(id, label string) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.identityProvider", "id": id, "name": "x", "type": "Google", "clientId": "c",
		"clientSecret": e.secret(label)}
}

// userFlows creates user flows whose bodies carry secrets in their
// identityProviders items, provokes errors with such bodies, and queues the
// flows' read paths.
func (e *canEnv) userFlows(b2c, wf canTenant, b2cConnectors []string) {
	t, rec := e.t, e.rec
	// The workforce tenant needs API connectors of its own.
	var wfConnectors []string
	for _, v := range []string{"v1.0", "beta"} {
		r := rec.expect(wf.name+" "+v+" create connector", http.StatusCreated, request{Method: "POST", Path: "/" + v + "/identity/apiConnectors", Token: wf.tok,
			Body: map[string]any{"displayName": "Canary flow " + v, "targetUrl": "https://canary.example.com/flow",
				"authenticationConfiguration": canBasicAuth(e.clearValue("user"), e.secret(wf.name+" "+v+" flow connector password"))}})
		wfConnectors = append(wfConnectors, e.createdID(wf.name+" connector", r))
	}
	type flow struct {
		ten      canTenant
		coll, id string
		versions []string
		steps    []string
	}
	var flows []flow
	for i, v := range []string{"v1.0", "beta"} {
		name := []string{"CanaryV1", "CanaryBeta"}[i]
		coll := "/" + v + "/identity/b2xUserFlows"
		label := wf.name + " " + v + " b2x flow"
		r := rec.expect(label+" create", http.StatusCreated, request{Method: "POST", Path: coll, Token: wf.tok, Body: map[string]any{
			"id": name, "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1,
			"apiConnectorConfiguration": map[string]any{
				"postFederationSignup":    map[string]any{"@odata.id": "https://graph.microsoft.com/" + v + "/identity/apiConnectors/" + wfConnectors[i]},
				"postAttributeCollection": map[string]any{"@odata.id": wfConnectors[1-i]}},
			"identityProviders": []any{e.flowProviderItem("Google-OAUTH", label+" item Google"), e.flowProviderItem("facebook-oauth", label+" item Facebook")}}})
		id := e.createdID(label, r)
		flows = append(flows, flow{wf, "identity/b2xUserFlows", id, []string{"v1.0", "beta"}, []string{"postFederationSignup", "postAttributeCollection"}})

		it := e.flowProviderItem("Google-OAUTH", label+" err item unknown property")
		it["bogusProperty"] = 1
		rec.expectError(label+" create: unknown item property", http.StatusBadRequest, request{Method: "POST", Path: coll, Token: wf.tok, Body: map[string]any{
			"id": "Bad" + name, "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1, "identityProviders": []any{it}}})
		rec.expectError(label+" create: missing provider", http.StatusBadRequest, request{Method: "POST", Path: coll, Token: wf.tok, Body: map[string]any{
			"id": "Bad" + name, "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1,
			"identityProviders": []any{e.flowProviderItem("Amazon-OAUTH", label+" err item missing provider")}}})
		it = e.flowProviderItem("", label+" err item without id")
		delete(it, "id")
		rec.expectError(label+" create: item without id", http.StatusBadRequest, request{Method: "POST", Path: coll, Token: wf.tok, Body: map[string]any{
			"id": "Bad" + name, "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1, "identityProviders": []any{it}}})
		it = e.flowProviderItem("Google-OAUTH", "")
		it["clientSecret"] = map[string]any{"value": e.secret(label + " err item secret object")}
		rec.expectError(label+" create: item clientSecret not a string", http.StatusBadRequest, request{Method: "POST", Path: coll, Token: wf.tok, Body: map[string]any{
			"id": "Bad" + name, "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1, "identityProviders": []any{it}}})
		rec.expectError(label+" create: identityProviders not an array", http.StatusBadRequest, request{Method: "POST", Path: coll, Token: wf.tok, Body: map[string]any{
			"id": "Bad" + name, "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1,
			"identityProviders": e.flowProviderItem("Google-OAUTH", label+" err items not an array")}})
		rec.expectError(label+" create: unknown property", http.StatusBadRequest, request{Method: "POST", Path: coll, Token: wf.tok, Body: map[string]any{
			"id": "Bad" + name, "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1, "bogusProperty": 1,
			"identityProviders": []any{e.flowProviderItem("Google-OAUTH", label+" err unknown property")}}})
		rec.expectError(label+" create: missing connector", http.StatusBadRequest, request{Method: "POST", Path: coll, Token: wf.tok, Body: map[string]any{
			"id": "Bad" + name, "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1,
			"apiConnectorConfiguration": map[string]any{"postFederationSignup": map[string]any{"@odata.id": "00000000-0000-0000-0000-000000000000"}},
			"identityProviders":         []any{e.flowProviderItem("Google-OAUTH", label+" err missing connector")}}})
		rec.expectError(label+" create: duplicate", http.StatusConflict, request{Method: "POST", Path: coll, Token: wf.tok, Body: map[string]any{
			"id": name, "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1,
			"identityProviders": []any{e.flowProviderItem("Google-OAUTH", label+" err duplicate flow")}}})
		rec.expectError(label+" create: in a B2C tenant", http.StatusBadRequest, request{Method: "POST", Path: coll, Token: b2c.tok, Body: map[string]any{
			"id": "Bad" + name, "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1,
			"identityProviders": []any{e.flowProviderItem("Google-OAUTH", label+" err b2c tenant")}}})
		rec.expectError(label+" create: read-only token", http.StatusForbidden, request{Method: "POST", Path: coll, Token: wf.readOnly, Body: map[string]any{
			"id": "Bad" + name, "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1,
			"identityProviders": []any{e.flowProviderItem("Google-OAUTH", label+" err forbidden")}}})
		rec.expectError(label+" create: truncated JSON", http.StatusBadRequest, request{Method: "POST", Path: coll, Token: wf.tok,
			Body: `{"id":"Bad","identityProviders":[{"id":"Google-OAUTH","clientSecret":"` + e.secret(label+" err truncated")})
		rec.expectError(label+" add provider: clientSecret next to @odata.id", http.StatusBadRequest, request{Method: "POST",
			Path: coll + "/" + id + "/identityProviders/$ref", Token: wf.tok,
			Body: map[string]any{"@odata.id": "https://graph.microsoft.com/" + v + "/identityProviders/Google-OAUTH", "clientSecret": e.secret(label + " err $ref secret")}})
		rec.expectError(label+" put connector: password next to @odata.id", http.StatusBadRequest, request{Method: "PUT",
			Path: coll + "/" + id + "/apiConnectorConfiguration/postAttributeCollection/$ref", Token: wf.tok,
			Body: map[string]any{"@odata.id": wfConnectors[0], "password": e.secret(label + " err connector $ref secret")}})
	}

	// b2cUserFlows: beta, B2C tenants; every kind of provider a flow can offer.
	label := b2c.name + " beta b2c flow"
	items := []any{e.flowProviderItem("Amazon-OAUTH", label+" item Amazon"), e.flowProviderItem("Google-OAUTH", label+" item Google")}
	oics := e.betaOnly[b2c.id]
	if len(oics) < 2 {
		t.Fatalf("%s: want at least two openIdConnect providers, have %v", label, oics)
	}
	items = append(items, e.flowProviderItem(oics[0], label+" item openIdConnect"))
	steps := map[string]any{}
	for i, step := range []string{"postFederationSignup", "postAttributeCollection", "preTokenIssuance"} {
		steps[step] = map[string]any{"@odata.id": "https://graph.microsoft.com/beta/identity/apiConnectors/" + b2cConnectors[i%len(b2cConnectors)]}
	}
	r := rec.expect(label+" create", http.StatusCreated, request{Method: "POST", Path: "/beta/identity/b2cUserFlows", Token: b2c.tok, Body: map[string]any{
		"id": "CanaryB2C", "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 3, "isLanguageCustomizationEnabled": true,
		"apiConnectorConfiguration": steps, "identityProviders": items}})
	b2cFlow := e.createdID(label, r)
	rec.expect(label+" add provider (current-API URL)", http.StatusNoContent, request{Method: "POST", Path: "/beta/identity/b2cUserFlows/" + b2cFlow + "/identityProviders/$ref",
		Token: b2c.tok, Body: map[string]any{"@odata.id": "https://graph.microsoft.com/beta/identity/identityProviders/" + oics[1]}})
	rec.expect(label+" add provider (deprecated URL)", http.StatusNoContent, request{Method: "POST", Path: "/beta/identity/b2cUserFlows/" + b2cFlow + "/identityProviders/$ref",
		Token: b2c.tok, Body: map[string]any{"@odata.id": "https://graph.microsoft.com/beta/identityProviders/LinkedIn-OAUTH"}})
	flows = append(flows, flow{b2c, "identity/b2cUserFlows", b2cFlow, []string{"beta"}, []string{"postFederationSignup", "postAttributeCollection", "preTokenIssuance"}})
	rec.expectError(label+" create in v1.0", http.StatusBadRequest, request{Method: "POST", Path: "/v1.0/identity/b2cUserFlows", Token: b2c.tok, Body: map[string]any{
		"id": "Bad", "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1, "identityProviders": []any{e.flowProviderItem("Amazon-OAUTH", label+" err v1.0")}}})
	rec.expectError(label+" create: Apple is not offered through this relationship", http.StatusBadRequest, request{Method: "POST", Path: "/beta/identity/b2cUserFlows",
		Token: b2c.tok, Body: map[string]any{"id": "Bad", "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1,
			"identityProviders": []any{e.flowProviderItem("Apple-Managed-OIDC", label+" err apple item")}}})
	rec.expectError(label+" create: unknown item property", http.StatusBadRequest, request{Method: "POST", Path: "/beta/identity/b2cUserFlows", Token: b2c.tok,
		Body: map[string]any{"id": "Bad", "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1,
			"identityProviders": []any{map[string]any{"id": oics[0], "certificateData": canPEM(e.secret(label + " err item certificateData"))}}}})

	// The flows' read paths.
	for _, f := range flows {
		for _, v := range f.versions {
			base := "/" + v + "/" + f.coll
			p := base + "/" + f.id
			e.read(f.ten.tok, http.StatusOK, base, p, base+"('"+f.id+"')",
				p+"/apiConnectorConfiguration", p+"/apiConnectorConfiguration?$expand=*",
				p+"/apiConnectorConfiguration?$expand="+strings.Join(f.steps, ","), p+"/identityProviders")
			if v == "beta" {
				e.read(f.ten.tok, http.StatusOK, p+"/apiConnectorConfiguration?expand=*")
			}
			for _, step := range f.steps {
				e.read(f.ten.tok, http.StatusOK, p+"/apiConnectorConfiguration/"+step)
			}
		}
	}
}

// providerReads queues the list and get paths of both provider APIs in
// both versions for tenant ten.
func (e *canEnv) providerReads(ten canTenant) {
	for _, v := range []string{"v1.0", "beta"} {
		cur, dep := "/"+v+"/identity/identityProviders", "/"+v+"/identityProviders"
		e.read(ten.tok, http.StatusOK, cur, cur+"/availableProviderTypes", dep, dep+"/availableProviderTypes")
		for _, id := range e.providers[ten.id] {
			e.read(ten.tok, http.StatusOK, cur+"/"+id, cur+"('"+id+"')")
		}
		for _, id := range e.social[ten.id] {
			e.read(ten.tok, http.StatusOK, dep+"/"+id, dep+"('"+id+"')")
		}
		status := http.StatusOK
		if v == "v1.0" {
			status = http.StatusNotFound
		}
		for _, id := range e.betaOnly[ten.id] {
			e.read(ten.tok, status, cur+"/"+id, dep+"/"+id)
		}
	}
}

// checkStored opens every provider secret the writes left and compares it
// with the last one written: the writes reached the store (sealed), the
// patches took effect, and a flow body's items changed nothing.
func (e *canEnv) checkStored() {
	t, s := e.t, e.s
	for _, w := range e.stored {
		rec, err := s.Store.Get(context.Background(), w.tenant, store.IdentityProviders, w.id)
		if err != nil {
			t.Errorf("stored provider %s of tenant %s: %v", w.id, w.tenant, err)
			continue
		}
		var p graph.IdentityProvider
		if err := json.Unmarshal(rec.Data, &p); err != nil {
			t.Fatal(err)
		}
		var sealed graph.Sealed
		switch w.field {
		case "clientSecret":
			sealed = p.ClientSecret
		case "certificateData":
			sealed = p.CertificateData
		case "clientAuthentication.clientSecret":
			if p.ClientAuth != nil {
				sealed = p.ClientAuth.ClientSecret
			}
		}
		plain, err := s.Keys.Open(sealed, secret.AAD(w.tenant, string(store.IdentityProviders), w.id, w.field))
		if err != nil {
			t.Errorf("stored provider %s of tenant %s: %s does not open: %v", w.id, w.tenant, w.field, err)
			continue
		}
		if string(plain) != w.value {
			t.Errorf("stored provider %s of tenant %s: %s holds another secret than the last one written", w.id, w.tenant, w.field)
		}
	}
}

// TestCanarySecretsNeverLeak writes unique canary secrets through every write
// path under both versions, crawls every read path, the write responses
// themselves, error responses provoked with canary-bearing bodies and the
// server log, and finally greps the raw database files: a canary must appear
// nowhere (decision D6), and reads must show the masks instead. The write
// paths are API connectors (passwords, PKCS#12 files), both identity-provider
// APIs in B2C, external and workforce tenants (clientSecret, certificateData,
// clientAuthentication.clientSecret) and user-flow create bodies, whose
// identityProviders items may carry a clientSecret that is ignored; a second
// server in the US Government cloud with the deprecated API sunset gets
// secret-bearing bodies for the routes it lacks. The provider secrets are
// then opened from the store: each holds the last one written.
func TestCanarySecretsNeverLeak(t *testing.T) {
	s := newServer(t)
	tok := s.adminToken(s.Tenant.ID)
	readOnlyTok := s.appToken(s.Tenant.ID, "IdentityUserFlow.Read.All", "IdentityProvider.Read.All")
	leaks := &canLeakSet{t: t}
	rec := &canRecorder{s: s}
	secret := func(name string) string {
		c := canNew(t)
		leaks.add(name, []byte(c))
		return c
	}
	newPFX := func(name string) certtest.PFX {
		pfx, err := certtest.Valid("canary "+name, canNew(t))
		if err != nil {
			t.Fatal(err)
		}
		leaks.addPFX(name, pfx)
		return pfx
	}
	// Non-secret values that are stored in clear: the positive control that
	// the database grep below can find what is there.
	var usernames []string

	type connectorIDs struct{ basic, cert, uploaded string }
	connectors := map[string]connectorIDs{}
	providers := map[string]string{"v1.0": "Amazon-OAUTH", "beta": "Facebook-OAUTH"}
	providerTypes := map[string]string{"v1.0": "Amazon", "beta": "Facebook"}

	for _, v := range []string{"v1.0", "beta"} {
		root := "/" + v + "/identity/apiConnectors"
		username := "user-" + v + "-" + canNew(t)[7:]
		usernames = append(usernames, username)

		// Create with basicAuthentication.
		r := rec.expect(v+" create basic", http.StatusCreated, request{Method: "POST", Path: root, Token: tok, Body: map[string]any{
			"displayName": "Canary " + v, "targetUrl": "https://canary.example.com/api",
			"authenticationConfiguration": canBasicAuth(username, secret(v+" create password"))}})
		basicID := r.JSON(t)["id"].(string)
		etag := r.Header.Get("ETag")

		// PATCH a new password, with and without a representation.
		rec.expect(v+" patch password (return=representation)", http.StatusOK, request{Method: "PATCH", Path: root + "/" + basicID, Token: tok,
			Header: map[string]string{"Prefer": "return=representation"},
			Body:   map[string]any{"authenticationConfiguration": canBasicAuth("", secret(v+" patch password"))}})
		rec.expect(v+" patch password (classic default)", http.StatusOK, request{Method: "PATCH", Path: root + "/" + basicID, Token: tok,
			Body: map[string]any{"displayName": "Canary " + v + " renamed", "authenticationConfiguration": canBasicAuth(username, secret(v+" patch password 2"))}})
		rec.expect(v+" patch password (return=minimal)", http.StatusNoContent, request{Method: "PATCH", Path: root + "/" + basicID, Token: tok,
			Header: map[string]string{"Prefer": "return=minimal"},
			Body:   map[string]any{"authenticationConfiguration": canBasicAuth("", secret(v+" patch password 3"))}})
		rec.expect(v+" patch password (gzip)", http.StatusOK, request{Method: "PATCH", Path: root + "/" + basicID, Token: tok, Gzip: true,
			Body: map[string]any{"authenticationConfiguration": canBasicAuth("", secret(v+" patch password gzip"))}})

		// A second connector switches to a certificate by PATCH, then gets
		// another by upload.
		r = rec.expect(v+" create basic 2", http.StatusCreated, request{Method: "POST", Path: root, Token: tok, Body: map[string]any{
			"displayName": "Canary cert " + v, "targetUrl": "https://canary.example.com/cert",
			"authenticationConfiguration": canBasicAuth(username, secret(v+" create password 2"))}})
		certID := r.JSON(t)["id"].(string)
		pfxPatch := newPFX(v + " patched pfx")
		r = rec.expect(v+" patch to pkcs12Certificate", http.StatusOK, request{Method: "PATCH", Path: root + "/" + certID, Token: tok,
			Header: map[string]string{"Prefer": "return=representation"},
			Body:   map[string]any{"authenticationConfiguration": canPKCS12Auth(pfxPatch)}})
		if !strings.Contains(string(r.Body), pfxPatch.Thumbprint) || !strings.Contains(string(r.Body), "clientCertificateAuthentication") {
			t.Errorf("%s: PATCH to pkcs12Certificate body lacks the certificate: %s", v, r.Body)
		}
		pfxUpload := newPFX(v + " uploaded pfx")
		r = rec.expect(v+" uploadClientCertificate", http.StatusOK, request{Method: "POST", Path: root + "/" + certID + "/uploadClientCertificate", Token: tok,
			Body: map[string]any{"pkcs12Value": pfxUpload.Base64, "password": pfxUpload.Password}})
		if !strings.Contains(string(r.Body), pfxUpload.Thumbprint) || !strings.Contains(string(r.Body), pfxPatch.Thumbprint) {
			t.Errorf("%s: upload body lacks the certificates: %s", v, r.Body)
		}

		// A third connector goes from basic to a certificate by upload.
		r = rec.expect(v+" create basic 3", http.StatusCreated, request{Method: "POST", Path: root, Token: tok, Body: map[string]any{
			"displayName": "Canary upload " + v, "targetUrl": "https://canary.example.com/upload",
			"authenticationConfiguration": canBasicAuth(username, secret(v+" create password 3"))}})
		uploadedID := r.JSON(t)["id"].(string)
		pfxBasicUpload := newPFX(v + " upload over basic")
		rec.expect(v+" uploadClientCertificate over basic", http.StatusOK, request{Method: "POST",
			Path: root + "/" + uploadedID + "/microsoft.graph.uploadClientCertificate", Token: tok,
			Body: map[string]any{"pkcs12Value": pfxBasicUpload.Base64, "password": pfxBasicUpload.Password}})
		connectors[v] = connectorIDs{basicID, certID, uploadedID}

		// Errors provoked with canary-bearing bodies.
		rec.expectError(v+" create: unknown property", http.StatusBadRequest, request{Method: "POST", Path: root, Token: tok, Body: map[string]any{
			"displayName": "x", "targetUrl": "https://x.example.com", "bogusProperty": 1,
			"authenticationConfiguration": canBasicAuth("u", secret(v+" err unknown property"))}})
		auth := canBasicAuth("u", secret(v+" err unknown nested property"))
		auth["bogusNested"] = "x"
		rec.expectError(v+" create: unknown nested property", http.StatusBadRequest, request{Method: "POST", Path: root, Token: tok, Body: map[string]any{
			"displayName": "x", "targetUrl": "https://x.example.com", "authenticationConfiguration": auth}})
		rec.expectError(v+" create: missing targetUrl", http.StatusBadRequest, request{Method: "POST", Path: root, Token: tok, Body: map[string]any{
			"displayName": "x", "authenticationConfiguration": canBasicAuth("u", secret(v+" err missing targetUrl"))}})
		rec.expectError(v+" create: missing username", http.StatusBadRequest, request{Method: "POST", Path: root, Token: tok, Body: map[string]any{
			"displayName": "x", "targetUrl": "https://x.example.com", "authenticationConfiguration": canBasicAuth("", secret(v+" err missing username"))}})
		rec.expectError(v+" create: read-only id", http.StatusBadRequest, request{Method: "POST", Path: root, Token: tok, Body: map[string]any{
			"id": "x", "displayName": "x", "targetUrl": "https://x.example.com", "authenticationConfiguration": canBasicAuth("u", secret(v+" err read-only id"))}})
		rec.expectError(v+" create: duplicate password", http.StatusBadRequest, request{Method: "POST", Path: root, Token: tok,
			Body: `{"displayName":"x","targetUrl":"https://x.example.com","authenticationConfiguration":{"@odata.type":"#microsoft.graph.basicAuthentication","username":"u","password":"` +
				secret(v+" err duplicate 1") + `","password":"` + secret(v+" err duplicate 2") + `"}}`})
		rec.expectError(v+" create: truncated JSON", http.StatusBadRequest, request{Method: "POST", Path: root, Token: tok,
			Body: `{"displayName":"x","authenticationConfiguration":{"@odata.type":"#microsoft.graph.basicAuthentication","password":"` + secret(v+" err truncated") + `"`})
		rec.expectError(v+" create: not JSON content type", http.StatusUnsupportedMediaType, request{Method: "POST", Path: root, Token: tok,
			Header: map[string]string{"Content-Type": "text/plain"},
			Body:   `{"authenticationConfiguration":{"password":"` + secret(v+" err content type") + `"}}`})
		rec.expectError(v+" create: no token", http.StatusUnauthorized, request{Method: "POST", Path: root, Body: map[string]any{
			"displayName": "x", "targetUrl": "https://x.example.com", "authenticationConfiguration": canBasicAuth("u", secret(v+" err no token"))}})
		rec.expectError(v+" create: read-only token", http.StatusForbidden, request{Method: "POST", Path: root, Token: readOnlyTok, Body: map[string]any{
			"displayName": "x", "targetUrl": "https://x.example.com", "authenticationConfiguration": canBasicAuth("u", secret(v+" err forbidden"))}})
		badPFX := newPFX(v + " invalid pkcs12 create")
		rec.expectError(v+" create: pkcs12 wrong password", http.StatusBadRequest, request{Method: "POST", Path: root, Token: tok, Body: map[string]any{
			"displayName": "x", "targetUrl": "https://x.example.com", "authenticationConfiguration": map[string]any{
				"@odata.type": "#microsoft.graph.pkcs12Certificate", "pkcs12Value": badPFX.Base64, "password": secret(v + " err wrong pfx password")}}})
		rec.expectError(v+" patch: unknown property", http.StatusBadRequest, request{Method: "PATCH", Path: root + "/" + basicID, Token: tok, Body: map[string]any{
			"bogusProperty": true, "authenticationConfiguration": canBasicAuth("", secret(v+" err patch unknown property"))}})
		rec.expectError(v+" patch: stale If-Match", http.StatusPreconditionFailed, request{Method: "PATCH", Path: root + "/" + basicID, Token: tok,
			Header: map[string]string{"If-Match": etag},
			Body:   map[string]any{"authenticationConfiguration": canBasicAuth("", secret(v+" err stale etag"))}})
		rec.expectError(v+" patch: missing connector", http.StatusNotFound, request{Method: "PATCH", Path: root + "/00000000-0000-0000-0000-000000000000", Token: tok,
			Body: map[string]any{"authenticationConfiguration": canBasicAuth("", secret(v+" err missing connector"))}})
		rec.expectError(v+" patch: basic without username over certificate", http.StatusBadRequest, request{Method: "PATCH", Path: root + "/" + certID, Token: tok,
			Body: map[string]any{"authenticationConfiguration": canBasicAuth("", secret(v+" err patch cert to basic"))}})
		rec.expectError(v+" patch: clientCertificateAuthentication is read-only", http.StatusBadRequest, request{Method: "PATCH", Path: root + "/" + certID, Token: tok,
			Body: map[string]any{"authenticationConfiguration": map[string]any{"@odata.type": "#microsoft.graph.clientCertificateAuthentication", "password": secret(v + " err read-only auth type")}}})
		badPFX2 := newPFX(v + " pkcs12 with unknown property")
		pa := canPKCS12Auth(badPFX2)
		pa["bogusNested"] = 1
		rec.expectError(v+" patch: pkcs12 unknown property", http.StatusBadRequest, request{Method: "PATCH", Path: root + "/" + certID, Token: tok,
			Body: map[string]any{"authenticationConfiguration": pa}})
		wrongPW := newPFX(v + " upload wrong password")
		rec.expectError(v+" upload: wrong password", http.StatusBadRequest, request{Method: "POST", Path: root + "/" + certID + "/uploadClientCertificate", Token: tok,
			Body: map[string]any{"pkcs12Value": wrongPW.Base64, "password": secret(v + " err upload wrong password")}})
		rec.expectError(v+" upload: not base64", http.StatusBadRequest, request{Method: "POST", Path: root + "/" + certID + "/uploadClientCertificate", Token: tok,
			Body: map[string]any{"pkcs12Value": secret(v + " err upload value"), "password": secret(v + " err upload value password")}})
		rec.expectError(v+" upload: duplicate certificate", http.StatusBadRequest, request{Method: "POST", Path: root + "/" + certID + "/uploadClientCertificate", Token: tok,
			Body: map[string]any{"pkcs12Value": pfxUpload.Base64, "password": pfxUpload.Password}})
		unknownUp := newPFX(v + " upload unknown property")
		rec.expectError(v+" upload: unknown property", http.StatusBadRequest, request{Method: "POST", Path: root + "/" + certID + "/uploadClientCertificate", Token: tok,
			Body: map[string]any{"pkcs12Value": unknownUp.Base64, "password": unknownUp.Password, "bogusProperty": "x"}})
		missingUp := newPFX(v + " upload to missing connector")
		rec.expectError(v+" upload: missing connector", http.StatusNotFound, request{Method: "POST", Path: root + "/00000000-0000-0000-0000-000000000000/uploadClientCertificate", Token: tok,
			Body: map[string]any{"pkcs12Value": missingUp.Base64, "password": missingUp.Password}})

		// The deprecated identityProvider API.
		dep := "/" + v + "/identityProviders"
		pid, ptype := providers[v], providerTypes[v]
		r = rec.expect(v+" deprecated create", http.StatusCreated, request{Method: "POST", Path: dep, Token: tok, Body: map[string]any{
			"name": "Login with " + ptype, "type": ptype, "clientId": "client-" + v, "clientSecret": secret(v + " deprecated create secret")}})
		if got := r.JSON(t)["id"]; got != pid {
			t.Fatalf("%s: deprecated create id = %v, want %s", v, got, pid)
		}
		rec.expect(v+" deprecated patch (default 204)", http.StatusNoContent, request{Method: "PATCH", Path: dep + "/" + pid, Token: tok,
			Body: map[string]any{"clientSecret": secret(v + " deprecated patch secret")}})
		rec.expect(v+" deprecated patch (return=representation)", http.StatusOK, request{Method: "PATCH", Path: dep + "/" + pid, Token: tok,
			Header: map[string]string{"Prefer": "return=representation"},
			Body:   map[string]any{"name": "Renamed " + ptype, "clientSecret": secret(v + " deprecated patch secret 2")}})
		rec.expect(v+" deprecated patch (gzip)", http.StatusNoContent, request{Method: "PATCH", Path: dep + "/" + strings.ToLower(pid), Token: tok, Gzip: true,
			Body: map[string]any{"clientSecret": secret(v + " deprecated patch secret gzip")}})

		rec.expectError(v+" deprecated create: unknown property", http.StatusBadRequest, request{Method: "POST", Path: dep, Token: tok, Body: map[string]any{
			"name": "x", "type": "Google", "clientId": "c", "bogusProperty": 1, "clientSecret": secret(v + " deprecated err unknown property")}})
		rec.expectError(v+" deprecated create: conflict", http.StatusConflict, request{Method: "POST", Path: dep, Token: tok, Body: map[string]any{
			"name": "x", "type": ptype, "clientId": "c", "clientSecret": secret(v + " deprecated err conflict")}})
		rec.expectError(v+" deprecated create: unsupported type", http.StatusBadRequest, request{Method: "POST", Path: dep, Token: tok, Body: map[string]any{
			"name": "x", "type": "NoSuchType", "clientId": "c", "clientSecret": secret(v + " deprecated err type")}})
		rec.expectError(v+" deprecated create: missing clientId", http.StatusBadRequest, request{Method: "POST", Path: dep, Token: tok, Body: map[string]any{
			"name": "x", "type": "Google", "clientSecret": secret(v + " deprecated err missing clientId")}})
		rec.expectError(v+" deprecated create: read-only token", http.StatusForbidden, request{Method: "POST", Path: dep, Token: readOnlyTok, Body: map[string]any{
			"name": "x", "type": "Google", "clientId": "c", "clientSecret": secret(v + " deprecated err forbidden")}})
		rec.expectError(v+" deprecated patch: unknown property", http.StatusBadRequest, request{Method: "PATCH", Path: dep + "/" + pid, Token: tok,
			Body: map[string]any{"bogusProperty": 1, "clientSecret": secret(v + " deprecated err patch unknown property")}})
		rec.expectError(v+" deprecated patch: type change", http.StatusBadRequest, request{Method: "PATCH", Path: dep + "/" + pid, Token: tok,
			Body: map[string]any{"type": "Google", "clientSecret": secret(v + " deprecated err type change")}})
		rec.expectError(v+" deprecated patch: missing provider", http.StatusNotFound, request{Method: "PATCH", Path: dep + "/Weibo-OAUTH", Token: tok,
			Body: map[string]any{"clientSecret": secret(v + " deprecated err missing provider")}})
		rec.expectError(v+" deprecated patch: secret not a string", http.StatusBadRequest, request{Method: "PATCH", Path: dep + "/" + pid, Token: tok,
			Body: `{"clientSecret":{"value":"` + secret(v+" deprecated err secret object") + `"}}`})
		rec.expectError(v+" deprecated patch: truncated JSON", http.StatusBadRequest, request{Method: "PATCH", Path: dep + "/" + pid, Token: tok,
			Body: `{"clientSecret":"` + secret(v+" deprecated err truncated") + ``})
	}

	// Rejected bearer tokens: neither they nor the canaries inside them may
	// reach a response or the log.
	tampered := tok[:len(tok)-4] + "AAAA"
	if tampered == tok {
		tampered = tok[:len(tok)-4] + "BBBB"
	}
	otherTenant := s.mint(directoryMintForUnknownTenant())
	for i, bad := range []string{
		"eyJ" + secret("token garbage"),
		"eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ." + base64.RawURLEncoding.EncodeToString([]byte(`{"x":"`+secret("token payload")+`"}`)) + ".c2ln",
		tampered,
		otherTenant,
	} {
		rec.expectError(fmt.Sprintf("bad token %d", i), http.StatusUnauthorized, request{Method: "GET", Path: "/v1.0/identity/apiConnectors", Token: bad})
		rec.expectError(fmt.Sprintf("bad token %d (write)", i), http.StatusUnauthorized, request{Method: "POST", Path: "/beta/identityProviders", Token: bad,
			Body: map[string]any{"name": "x", "type": "Google", "clientId": "c", "clientSecret": secret(fmt.Sprintf("bad token %d secret", i))}})
	}
	rec.expectError("Basic scheme", http.StatusUnauthorized, request{Method: "GET", Path: "/v1.0/identityProviders",
		Header: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+secret("basic scheme password")))}})

	// The identity-provider API in every tenant kind, the deprecated
	// openIdConnectProvider, and user flows whose bodies carry secrets.
	tenant := func(name string, kind graph.TenantKind) canTenant {
		id := s.Tenant.ID
		if kind != s.Tenant.Kind {
			id = s.newTenant(kind, "").ID
		}
		return canTenant{name, id, s.adminToken(id), s.appToken(id, "IdentityUserFlow.Read.All", "IdentityProvider.Read.All")}
	}
	b2c, ext, wf := tenant("b2c", graph.TenantB2C), tenant("external", graph.TenantExternal), tenant("workforce", graph.TenantWorkforce)
	env := &canEnv{t: t, s: s, rec: rec, secret: secret, providers: map[string][]string{}, social: map[string][]string{},
		betaOnly: map[string][]string{}}
	for _, v := range []string{"v1.0", "beta"} {
		env.provider(b2c, providers[v], graph.TypeSocialIdentityProvider)
	}
	writesBefore, secretsBefore := len(rec.seen), leaks.secrets
	env.currentProviders(b2c, ext, wf)
	env.deprecatedOpenIDConnect(b2c, ext)
	env.userFlows(b2c, wf, []string{connectors["v1.0"].basic, connectors["beta"].cert, connectors["beta"].uploaded})
	providerWrites, providerSecrets := len(rec.seen)-writesBefore, leaks.secrets-secretsBefore
	for _, ten := range []canTenant{b2c, ext, wf} {
		env.providerReads(ten)
	}
	for _, rd := range env.reads {
		if rd.status == http.StatusOK {
			rec.expect("GET "+rd.path, rd.status, request{Method: "GET", Path: rd.path, Token: rd.tok})
		} else {
			rec.expectError("GET "+rd.path, rd.status, request{Method: "GET", Path: rd.path, Token: rd.tok})
		}
	}

	// A second server where routes are gone: US Government cloud (no v1.0
	// identityProviders or b2xUserFlows) with the deprecated API sunset.
	gov := newServerWith(t, serverOptions{cloud: graph.CloudUSGov, sunset: true})
	govRec := &canRecorder{s: gov}
	govClear := canSunsetCloud(t, govRec, secret)
	rec.seen = append(rec.seen, govRec.seen...)
	govSecrets := leaks.secrets - secretsBefore - providerSecrets

	// Crawl every read path in both versions.
	var reads []string
	for _, v := range []string{"v1.0", "beta"} {
		reads = append(reads, "/"+v+"/identity/apiConnectors", "/"+v+"/identity/apiConnectors?$select=authenticationConfiguration",
			"/"+v+"/identityProviders", "/"+v+"/identityProviders/availableProviderTypes")
		for _, w := range []string{"v1.0", "beta"} {
			c := connectors[w]
			for _, id := range []string{c.basic, c.cert, c.uploaded} {
				reads = append(reads, "/"+v+"/identity/apiConnectors/"+id, "/"+v+"/identity/apiConnectors('"+id+"')")
			}
			reads = append(reads, "/"+v+"/identityProviders/"+providers[w], "/"+v+"/identityProviders('"+providers[w]+"')")
		}
	}
	for _, p := range reads {
		rec.expect("GET "+p, http.StatusOK, request{Method: "GET", Path: p, Token: tok})
	}

	// The stored values read back as expected, with masks.
	for _, v := range []string{"v1.0", "beta"} {
		c := connectors[v]
		r := rec.expect("GET basic "+v, http.StatusOK, request{Method: "GET", Path: "/" + v + "/identity/apiConnectors/" + c.basic, Token: tok})
		a, _ := r.JSON(t)["authenticationConfiguration"].(map[string]any)
		if a["@odata.type"] != "#microsoft.graph.basicAuthentication" || a["password"] != "******" {
			t.Errorf("%s basic connector auth = %v, want basicAuthentication with password \"******\"", v, a)
		}
		for _, id := range []string{c.cert, c.uploaded} {
			r := rec.expect("GET cert "+v, http.StatusOK, request{Method: "GET", Path: "/" + v + "/identity/apiConnectors/" + id, Token: tok})
			a, _ := r.JSON(t)["authenticationConfiguration"].(map[string]any)
			if a["@odata.type"] != "#microsoft.graph.clientCertificateAuthentication" {
				t.Errorf("%s certificate connector auth = %v", v, a)
			}
			if _, ok := a["password"]; ok {
				t.Errorf("%s certificate connector shows a password property: %v", v, a)
			}
			if _, ok := a["pkcs12Value"]; ok {
				t.Errorf("%s certificate connector shows pkcs12Value: %v", v, a)
			}
		}
		r = rec.expect("GET provider "+v, http.StatusOK, request{Method: "GET", Path: "/" + v + "/identityProviders/" + providers[v], Token: tok})
		if got := r.JSON(t)["clientSecret"]; got != "*****" {
			t.Errorf("%s deprecated provider clientSecret = %#v, want \"*****\"", v, got)
		}
	}

	// No canary in any response, body or header; masks wherever a secret
	// property is shown.
	var st canMaskStats
	for _, x := range rec.seen {
		leaks.check(x.label+" (body)", x.r.Body)
		var hdr bytes.Buffer
		x.r.Header.Write(&hdr)
		leaks.check(x.label+" (headers)", hdr.Bytes())
		if len(x.r.Body) > 0 {
			var doc any
			if err := json.Unmarshal(x.r.Body, &doc); err != nil {
				t.Errorf("%s: body is not JSON: %v", x.label, err)
				continue
			}
			canCheckMasks(t, x.label, doc, &st)
		}
	}
	if st.passwords < 10 || st.clientSecrets < 10 || st.currentSecret < 10 || st.certificates < 10 || st.oidcSecrets < 10 {
		t.Errorf("masks seen: %+v; the crawl saw too few to mean anything", st)
	}
	t.Logf("%d secrets (%d forms; %d through identity-provider and user-flow bodies, %d to the US Government server), "+
		"%d responses crawled (%d of them identity-provider and user-flow writes and errors, %d reads of their paths, "+
		"%d from a US Government cloud server with the deprecated API sunset), "+
		"masks seen: %d passwords, %d deprecated clientSecrets, %d current clientSecrets, %d certificateData, %d oidc clientSecrets",
		leaks.secrets, len(leaks.needles), providerSecrets, govSecrets, len(rec.seen), providerWrites, len(env.reads), len(govRec.seen),
		st.passwords, st.clientSecrets, st.currentSecret, st.certificates, st.oidcSecrets)
	env.checkStored()
	t.Logf("%d provider secrets read back sealed from the store", len(env.stored))

	// The logs: no canary, no token, no Authorization header.
	for _, srv := range []struct {
		name string
		s    *testServer
	}{{"server log", s}, {"US Government server log", gov}} {
		logs := srv.s.Logs.String()
		if !strings.Contains(logs, `"msg":"request"`) {
			t.Errorf("%s: the server logged no requests; the log check would be vacuous:\n%s", srv.name, logs)
		}
		leaks.check(srv.name, []byte(logs))
		if n := strings.Count(logs, "eyJ"); n > 0 {
			t.Errorf("LEAK: %s holds %d occurrence(s) of \"eyJ\" (a token)", srv.name, n)
		}
		if n := strings.Count(logs, "Bearer "); n > 0 {
			t.Errorf("LEAK: %s holds %d occurrence(s) of \"Bearer \"", srv.name, n)
		}
		if strings.Contains(logs, tok) || strings.Contains(logs, readOnlyTok) {
			t.Errorf("LEAK: %s holds a bearer token", srv.name)
		}
	}

	// The raw database files, while the server runs (WAL pages) and after it
	// closed (checkpointed), for every canary in every form.
	grepFiles := func(s *testServer, when string, clear []string) {
		t.Helper()
		files := canReadDataDir(t, s.DataDir)
		if _, ok := files[filepath.Join(s.DataDir, "idgraph.db")]; !ok {
			t.Fatalf("%s: no idgraph.db in %s (files: %v)", when, s.DataDir, canaryFileNames(files))
		}
		var all []byte
		for name, b := range files {
			leaks.check(when+" "+filepath.Base(name), b)
			all = append(all, b...)
		}
		// Positive control: what is stored in clear is found.
		for _, u := range clear {
			if !bytes.Contains(all, []byte(u)) {
				t.Errorf("%s: stored value %q not found in the data files (%v): the grep would be vacuous", when, u, canaryFileNames(files))
			}
		}
		t.Logf("%s: grepped %v", when, canaryFileNames(files))
	}
	clear := append(usernames, env.clear...)
	grepFiles(s, "while serving", clear)
	grepFiles(gov, "US Government server while serving", govClear)
	s.Close()
	gov.Close()
	grepFiles(s, "after close", clear)
	grepFiles(gov, "US Government server after close", govClear)
}

// canSunsetCloud sends secret-bearing bodies to routes a US Government cloud
// server with the deprecated API sunset does not have, and writes through
// the routes it keeps. It returns the values stored in clear.
func canSunsetCloud(t *testing.T, rec *canRecorder, secret func(string) string) []string {
	s := rec.s
	tok := s.adminToken(s.Tenant.ID)
	wf := s.newTenant(graph.TenantWorkforce, "").ID
	wfTok := s.adminToken(wf)
	none := s.appToken(s.Tenant.ID)
	social := func(name string) map[string]any {
		return map[string]any{"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "Gov", "identityProviderType": "Google",
			"clientId": "c", "clientSecret": secret(name)}
	}
	flow := func(name string) map[string]any {
		return map[string]any{"id": "Gov", "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1,
			"identityProviders": []any{map[string]any{"id": "Google-OAUTH", "clientSecret": secret(name)}}}
	}
	for _, c := range []struct {
		label  string
		method string
		path   string
		tok    string
		body   any
	}{
		{"v1.0 create provider", "POST", "/v1.0/identity/identityProviders", tok, social("gov v1.0 create")},
		{"v1.0 create provider, no permission", "POST", "/v1.0/identity/identityProviders", none, social("gov v1.0 create no permission")},
		{"v1.0 patch provider", "PATCH", "/v1.0/identity/identityProviders/Google-OAUTH", tok, map[string]any{"clientSecret": secret("gov v1.0 patch")}},
		{"v1.0 create oidc-style body", "POST", "/v1.0/identity/identityProviders", tok, map[string]any{"@odata.type": "#microsoft.graph.oidcIdentityProvider",
			"clientAuthentication": canOIDCSecretAuth(secret("gov v1.0 oidc"))}},
		{"v1.0 create b2x flow", "POST", "/v1.0/identity/b2xUserFlows", wfTok, flow("gov v1.0 flow item")},
		{"beta deprecated create (sunset)", "POST", "/beta/identityProviders", tok, map[string]any{"name": "x", "type": "OpenIDConnect", "clientId": "c",
			"clientSecret": secret("gov sunset create")}},
		{"v1.0 deprecated patch (sunset)", "PATCH", "/v1.0/identityProviders/Google-OAUTH", tok, map[string]any{"clientSecret": secret("gov sunset patch")}},
		{"beta flow identityProviders $ref (sunset)", "POST", "/beta/identity/b2xUserFlows/B2X_1_Gov/identityProviders/$ref", wfTok,
			map[string]any{"@odata.id": "Google-OAUTH", "clientSecret": secret("gov sunset $ref")}},
		{"v1.0 create connector", "POST", "/v1.0/identity/apiConnectors", tok, map[string]any{"displayName": "x", "targetUrl": "https://x.example.com",
			"authenticationConfiguration": canBasicAuth("u", secret("gov v1.0 connector"))}},
	} {
		rec.expectError("US Government "+c.label, http.StatusBadRequest, request{Method: c.method, Path: c.path, Token: c.tok, Body: c.body})
	}
	// beta keeps every route but the sunset ones.
	var clear []string
	b := social("gov beta create")
	b["clientId"] = canUnique(t, "gov-client")
	clear = append(clear, b["clientId"].(string))
	rec.expect("US Government beta create provider", http.StatusCreated, request{Method: "POST", Path: "/beta/identity/identityProviders", Token: tok, Body: b})
	rec.expect("US Government beta patch provider", http.StatusOK, request{Method: "PATCH", Path: "/beta/identity/identityProviders/Google-OAUTH", Token: tok,
		Header: map[string]string{"Prefer": "return=representation"}, Body: map[string]any{"clientSecret": secret("gov beta patch")}})
	b = social("gov workforce beta create")
	b["clientId"] = canUnique(t, "gov-wf-client")
	clear = append(clear, b["clientId"].(string))
	rec.expect("US Government beta create workforce provider", http.StatusCreated, request{Method: "POST", Path: "/beta/identity/identityProviders", Token: wfTok, Body: b})
	rec.expect("US Government beta create b2x flow", http.StatusCreated, request{Method: "POST", Path: "/beta/identity/b2xUserFlows", Token: wfTok,
		Body: flow("gov beta flow item")})
	for _, p := range []string{"/beta/identity/identityProviders", "/beta/identity/identityProviders/Google-OAUTH"} {
		rec.expect("US Government GET "+p, http.StatusOK, request{Method: "GET", Path: p, Token: tok})
	}
	rec.expect("US Government GET beta flow", http.StatusOK, request{Method: "GET", Path: "/beta/identity/b2xUserFlows/B2X_1_Gov/apiConnectorConfiguration?$expand=*", Token: wfTok})
	rec.expectError("US Government GET beta flow identityProviders (sunset)", http.StatusBadRequest,
		request{Method: "GET", Path: "/beta/identity/b2xUserFlows/B2X_1_Gov/identityProviders", Token: wfTok})
	return clear
}

func canaryFileNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, filepath.Base(k))
	}
	return out
}

// TestCanaryDetectorFindsEncodedSecrets keeps the leak check honest: a secret
// stored as a JSON []byte (base64) at any alignment, or in hex, is found.
func TestCanaryDetectorFindsEncodedSecrets(t *testing.T) {
	c := canNew(t)
	for _, prefix := range []string{"", "x", "xy", "xyz"} {
		for _, form := range []func([]byte) []byte{
			func(b []byte) []byte { j, _ := json.Marshal(b); return j },
			func(b []byte) []byte { return []byte(base64.URLEncoding.EncodeToString(b)) },
			func(b []byte) []byte { return []byte(hex.EncodeToString(b)) },
			func(b []byte) []byte { return b },
		} {
			l := &canLeakSet{t: t}
			l.add("probe", []byte(c))
			data := form([]byte(prefix + c + "tail"))
			found := 0
			for _, n := range l.needles {
				found += bytes.Count(data, n.b)
			}
			if found == 0 {
				t.Errorf("secret with prefix %q not found in %q", prefix, data)
			}
		}
	}
}

// directoryMintForUnknownTenant describes a well-signed token for a tenant
// the server does not know.
func directoryMintForUnknownTenant() directory.MintOptions {
	return directory.MintOptions{Tenant: "3f9e2b7c-1d4a-4e5b-9c8d-7a6b5c4d3e2f", Roles: []string{"IdentityProvider.ReadWrite.All"}}
}
