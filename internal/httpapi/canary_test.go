package httpapi_test

import (
	"bytes"
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
// shows its mask: basicAuthentication.password "******", the deprecated
// identityProvider.clientSecret "*****".
type canMaskStats struct{ passwords, clientSecrets int }

func canCheckMasks(t *testing.T, label string, v any, st *canMaskStats) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		if typ, _ := x["@odata.type"].(string); strings.HasSuffix(strings.ToLower(typ), "basicauthentication") {
			if x["password"] != "******" {
				t.Errorf("%s: basicAuthentication.password = %#v, want the mask \"******\"", label, x["password"])
			}
			st.passwords++
		}
		if cs, ok := x["clientSecret"]; ok {
			if cs != "*****" {
				t.Errorf("%s: clientSecret = %#v, want the mask \"*****\"", label, cs)
			}
			st.clientSecrets++
		}
		for k, e := range x {
			if k == "clientSecret" || k == "password" {
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

// TestCanarySecretsNeverLeak writes unique canary secrets through every write
// path under both versions, crawls every read path, the write responses
// themselves, error responses provoked with canary-bearing bodies and the
// server log, and finally greps the raw database files: a canary must appear
// nowhere (decision D6), and reads must show the masks instead.
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
	if st.passwords < 10 || st.clientSecrets < 10 {
		t.Errorf("masks seen: %d passwords, %d clientSecrets; the crawl saw too few to mean anything", st.passwords, st.clientSecrets)
	}
	t.Logf("%d secrets (%d forms), %d responses crawled, masks seen: %d passwords, %d clientSecrets",
		leaks.secrets, len(leaks.needles), len(rec.seen), st.passwords, st.clientSecrets)

	// The log: no canary, no token, no Authorization header.
	logs := s.Logs.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Errorf("the server logged no requests; the log check would be vacuous:\n%s", logs)
	}
	leaks.check("server log", []byte(logs))
	if n := strings.Count(logs, "eyJ"); n > 0 {
		t.Errorf("LEAK: server log holds %d occurrence(s) of \"eyJ\" (a token)", n)
	}
	if n := strings.Count(logs, "Bearer "); n > 0 {
		t.Errorf("LEAK: server log holds %d occurrence(s) of \"Bearer \"", n)
	}
	if strings.Contains(logs, tok) || strings.Contains(logs, readOnlyTok) {
		t.Errorf("LEAK: server log holds a bearer token")
	}

	// The raw database files, while the server runs (WAL pages) and after it
	// closed (checkpointed), for every canary in every form.
	grepFiles := func(when string) {
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
		for _, u := range usernames {
			if !bytes.Contains(all, []byte(u)) {
				t.Errorf("%s: stored username %q not found in the data files (%v): the grep would be vacuous", when, u, canaryFileNames(files))
			}
		}
		t.Logf("%s: grepped %v", when, canaryFileNames(files))
	}
	grepFiles("while serving")
	s.Close()
	grepFiles("after close")
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
