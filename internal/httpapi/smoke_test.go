package httpapi_test

import (
	"net/http"
	"testing"
)

// TestReferenceExamples runs the two reference pages' examples as written.
func TestReferenceExamples(t *testing.T) {
	s := newServer(t)
	tok := s.adminToken(s.Tenant.ID)

	// v1.0 "Update identityProvider (deprecated)": the provider must exist.
	r := s.do(request{Method: "POST", Path: "/v1.0/identityProviders", Token: tok, Body: map[string]string{
		"name": "Login with Amazon", "type": "Amazon", "clientId": "56433757-cadd-4135-8431-2c9e3fd68ae8", "clientSecret": "000000000000"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	r = s.do(request{Method: "PATCH", Path: "/v1.0/identityProviders/Amazon-OAuth", Token: tok,
		Header: map[string]string{"Content-type": "application/json"}, Body: `{"clientSecret": "1111111111111"}`})
	if r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("PATCH deprecated provider: %d %q, want 204 and no body", r.Status, r.Body)
	}
	if r.Header.Get("Deprecation") == "" || r.Header.Get("Sunset") == "" {
		t.Errorf("deprecation headers missing: %v", r.Header)
	}

	// beta classic "Update identityApiConnector": 200 with the updated connector.
	r = s.do(request{Method: "POST", Path: "/beta/identity/apiConnectors", Token: tok, Body: map[string]any{
		"displayName": "Test API", "targetUrl": "https://someapi.com/api",
		"authenticationConfiguration": map[string]string{"@odata.type": "#microsoft.graph.basicAuthentication", "username": "u", "password": "p"}}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create connector: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"].(string)
	r = s.do(request{Method: "PATCH", Path: "/beta/identity/apiConnectors/" + id, Token: tok, Body: `{
  "@odata.type": "#microsoft.graph.identityApiConnector",
  "displayName": "String",
  "targetUrl": "String",
  "authenticationConfiguration": {
    "@odata.type": "microsoft.graph.apiAuthenticationConfigurationBase"
  }
}`})
	if r.Status != http.StatusOK {
		t.Fatalf("PATCH connector: %d %s", r.Status, r.Body)
	}
	got := r.JSON(t)
	if got["displayName"] != "String" || got["id"] != id || got["@odata.type"] != "#microsoft.graph.identityApiConnector" {
		t.Errorf("PATCH body = %v", got)
	}
}
