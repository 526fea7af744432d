package httpapi

import (
	"net/http"
	"strings"

	"github.com/idgraph/idgraph/internal/auth"
)

// route is one row of the table: a method and a path pattern relative to the
// version root, the permission policy, and the handler.
type route struct {
	method     string
	pattern    string // segments; "{id}" takes one segment as the id
	policy     auth.Policy
	handler    func(s *Server, w http.ResponseWriter, r *http.Request)
	deprecated bool // the deprecated /identityProviders API (decision D5)
	segs       []string
}

// routes is every operation idgraph serves, under both /v1.0 and /beta.
// Function and action segments are matched case-insensitively, with or
// without "microsoft.graph." and "()"; the first matching row wins.
var routes = compile([]route{
	{method: "GET", pattern: "identity/apiConnectors", policy: auth.APIConnectorList, handler: (*Server).handleListAPIConnectors},
	{method: "POST", pattern: "identity/apiConnectors", policy: auth.APIConnectorCreate, handler: (*Server).handleCreateAPIConnector},
	{method: "GET", pattern: "identity/apiConnectors/{id}", policy: auth.APIConnectorGet, handler: (*Server).handleGetAPIConnector},
	{method: "PATCH", pattern: "identity/apiConnectors/{id}", policy: auth.APIConnectorUpdate, handler: (*Server).handleUpdateAPIConnector},
	{method: "DELETE", pattern: "identity/apiConnectors/{id}", policy: auth.APIConnectorDelete, handler: (*Server).handleDeleteAPIConnector},
	{method: "POST", pattern: "identity/apiConnectors/{id}/uploadClientCertificate", policy: auth.APIConnectorUpload, handler: (*Server).handleUploadClientCertificate},

	{method: "GET", pattern: "identityProviders/availableProviderTypes", policy: auth.IdentityProviderRead, handler: (*Server).handleDeprecatedAvailableProviderTypes, deprecated: true},
	{method: "GET", pattern: "identityProviders", policy: auth.IdentityProviderRead, handler: (*Server).handleListDeprecatedIdentityProviders, deprecated: true},
	{method: "POST", pattern: "identityProviders", policy: auth.IdentityProviderWrite, handler: (*Server).handleCreateDeprecatedIdentityProvider, deprecated: true},
	{method: "GET", pattern: "identityProviders/{id}", policy: auth.IdentityProviderRead, handler: (*Server).handleGetDeprecatedIdentityProvider, deprecated: true},
	{method: "PATCH", pattern: "identityProviders/{id}", policy: auth.IdentityProviderWrite, handler: (*Server).handleUpdateDeprecatedIdentityProvider, deprecated: true},
	{method: "DELETE", pattern: "identityProviders/{id}", policy: auth.IdentityProviderWrite, handler: (*Server).handleDeleteDeprecatedIdentityProvider, deprecated: true},
})

func compile(rs []route) []route {
	for i := range rs {
		rs[i].segs = strings.Split(rs[i].pattern, "/")
	}
	return rs
}

// match finds the route for a method and path. It returns the route and the
// id; or, when the path exists with other methods, those methods.
func match(method string, segs []segment) (rt *route, id string, allowed []string) {
	for i := range routes {
		r := &routes[i]
		if pid, ok := r.matchPath(segs); ok {
			if r.method == method {
				return r, pid, nil
			}
			allowed = append(allowed, r.method)
		}
	}
	return nil, "", allowed
}

func (r *route) matchPath(segs []segment) (id string, ok bool) {
	if len(segs) != len(r.segs) {
		return "", false
	}
	for i, p := range r.segs {
		s := segs[i]
		if p == "{id}" {
			if s.call {
				return "", false
			}
			id = s.value
			continue
		}
		if !matchLiteral(s, p) {
			return "", false
		}
	}
	return id, true
}
