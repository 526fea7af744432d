package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// A client that reads an entity and sends it back (as SDK update helpers do)
// sends the mask where the secret was. That keeps the stored secret; it must
// not become the new password.
func TestMaskRoundTripKeepsSecret(t *testing.T) {
	s := newServer(t)
	tok := s.adminToken(s.Tenant.ID)
	r := s.do(request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: tok, Body: map[string]any{
		"displayName": "c", "targetUrl": "https://api.example/x",
		"authenticationConfiguration": map[string]string{"@odata.type": "#microsoft.graph.basicAuthentication", "username": "u", "password": "p1"}}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"].(string)
	before := storedPassword(t, s, id)

	read := s.do(request{Method: "GET", Path: "/v1.0/identity/apiConnectors/" + id, Token: tok})
	var entity map[string]any
	json.Unmarshal(read.Body, &entity)
	delete(entity, "@odata.context")
	entity["displayName"] = "renamed"
	r = s.do(request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/" + id, Token: tok, Body: entity})
	if r.Status != http.StatusOK {
		t.Fatalf("PATCH with the read entity: %d %s", r.Status, r.Body)
	}
	if after := storedPassword(t, s, id); !bytes.Equal(after, before) {
		t.Errorf("sending the mask back changed the stored password")
	}

	// The deprecated provider's mask works the same way.
	r = s.do(request{Method: "POST", Path: "/v1.0/identityProviders", Token: tok, Body: map[string]string{
		"name": "Amazon", "type": "Amazon", "clientId": "id", "clientSecret": "s1"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create provider: %d %s", r.Status, r.Body)
	}
	rec, _ := s.Store.Get(context.Background(), s.Tenant.ID, store.IdentityProviders, "Amazon-OAUTH")
	r = s.do(request{Method: "PATCH", Path: "/v1.0/identityProviders/Amazon-OAUTH", Token: tok, Body: map[string]string{"clientSecret": "*****", "name": "Amazon 2"}})
	if r.Status != http.StatusNoContent {
		t.Fatalf("PATCH provider with the mask: %d %s", r.Status, r.Body)
	}
	rec2, _ := s.Store.Get(context.Background(), s.Tenant.ID, store.IdentityProviders, "Amazon-OAUTH")
	var p1, p2 graph.IdentityProvider
	json.Unmarshal(rec.Data, &p1)
	json.Unmarshal(rec2.Data, &p2)
	if !bytes.Equal(p1.ClientSecret, p2.ClientSecret) || p2.DisplayName != "Amazon 2" {
		t.Errorf("mask PATCH: secret changed=%v, name %q", !bytes.Equal(p1.ClientSecret, p2.ClientSecret), p2.DisplayName)
	}

	// A mask is not a secret: a create that sends only the mask has none.
	r = s.do(request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: tok, Body: map[string]any{
		"displayName": "c", "targetUrl": "https://api.example/x",
		"authenticationConfiguration": map[string]string{"@odata.type": "#microsoft.graph.basicAuthentication", "username": "u", "password": "******"}}})
	checkError(t, r, http.StatusBadRequest, "Request_BadRequest")
}

func storedPassword(t *testing.T, s *testServer, id string) []byte {
	t.Helper()
	rec, err := s.Store.Get(context.Background(), s.Tenant.ID, store.APIConnectors, id)
	if err != nil {
		t.Fatal(err)
	}
	var c graph.APIConnector
	if err := json.Unmarshal(rec.Data, &c); err != nil {
		t.Fatal(err)
	}
	return c.Auth.Password
}

// With several unknown properties, the one the message names is the same on
// every request.
func TestUnknownPropertyMessageIsStable(t *testing.T) {
	s := newServer(t)
	tok := s.adminToken(s.Tenant.ID)
	body := `{"zeta":1,"displayName":"x","alpha":2,"mid":3}`
	for range 20 {
		r := s.do(request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: tok, Body: body})
		checkError(t, r, http.StatusBadRequest, "Request_BadRequest")
		if !strings.Contains(string(r.Body), "'alpha'") {
			t.Fatalf("message names another property: %s", r.Body)
		}
	}
}
