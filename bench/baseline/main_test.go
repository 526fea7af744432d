package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The baseline must do the work it stands for: a benchmark against a server
// that skips the JSON work or answers wrongly would flatter nobody.
func TestBaselineRoutes(t *testing.T) {
	srv := httptest.NewServer(newHandler(3))
	defer srv.Close()
	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var m map[string]any
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("%s %s: body %q is not JSON", method, path, raw)
			}
		}
		return res.StatusCode, m
	}

	status, m := do("PATCH", "/beta/identity/apiConnectors/conn-1", `{"displayName":"Renamed","authenticationConfiguration":{"@odata.type":"#microsoft.graph.basicAuthentication","username":"u","password":"new-secret"}}`)
	if status != 200 || m["displayName"] != "Renamed" || m["authenticationConfiguration"].(map[string]any)["password"] != "******" {
		t.Errorf("PATCH connector: %d %v", status, m)
	}
	if status, m = do("GET", "/beta/identity/apiConnectors/conn-1", ""); status != 200 || m["displayName"] != "Renamed" {
		t.Errorf("GET connector after PATCH: %d %v", status, m)
	}
	if status, _ = do("PATCH", "/v1.0/identityProviders/prov-2", `{"clientSecret":"s2"}`); status != 204 {
		t.Errorf("PATCH provider: %d, want 204", status)
	}
	if status, m = do("GET", "/v1.0/identityProviders/prov-2", ""); status != 200 || m["clientSecret"] != "*****" {
		t.Errorf("GET provider: %d %v", status, m)
	}
	if status, m = do("GET", "/v1.0/identityProviders", ""); status != 200 || len(m["value"].([]any)) != 3 {
		t.Errorf("list providers: %d %v", status, m)
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"PATCH", "/v1.0/identityProviders/prov-0", `{"id":"other"}`, 400},
		{"PATCH", "/v1.0/identityProviders/prov-0", `{`, 400},
		{"PATCH", "/v1.0/identityProviders/nope", `{}`, 404},
		{"GET", "/beta/identity/apiConnectors/nope", "", 404},
	} {
		if status, m := do(tc.method, tc.path, tc.body); status != tc.status || m["error"] == nil {
			t.Errorf("%s %s %s: %d %v, want %d with an error", tc.method, tc.path, tc.body, status, m, tc.status)
		}
	}
}
