package httpapi

import (
	"net/http"
	"strings"

	"github.com/idgraph/idgraph/internal/auth"
)

// family groups the routes of one API: the national clouds and the
// deprecated-API sunset decide per family whether its routes exist.
type family int

// The API families of the slice.
const (
	famConnectors       family = iota // /identity/apiConnectors
	famProviders                      // /identity/identityProviders
	famDeprecated                     // /identityProviders (deprecated, D5)
	famB2XFlows                       // /identity/b2xUserFlows
	famB2XFlowProviders               // /identity/b2xUserFlows/{id}/identityProviders (deprecated relationship)
	famB2CFlows                       // /identity/b2cUserFlows (beta)
	famB2CFlowProviders               // /identity/b2cUserFlows/{id}/identityProviders (beta)
)

// deprecated reports the families Graph marks deprecated (Revisions
// annotation of identityProvider and of b2xIdentityUserFlow/identityProviders).
func (f family) deprecated() bool { return f == famDeprecated || f == famB2XFlowProviders }

// route is one row of the table: a method and a path pattern relative to the
// version root, the permission policy, and the handler.
type route struct {
	method  string
	pattern string // segments; "{name}" takes one segment as a parameter
	policy  auth.Policy
	handler func(s *Server, w http.ResponseWriter, r *http.Request)
	family  family
	query   queryKind // the system query options GET takes
	count   bool      // the /$count segment of a collection: its list handler answers the number
	view    func(r *http.Request) *view
	segs    []string
}

// routes is every operation idgraph serves, under both /v1.0 and /beta
// (availability per version and cloud: available). Function and action
// segments are matched case-insensitively, with or without
// "microsoft.graph." and "()"; the first matching row wins.
var routes = compile([]route{
	{method: "GET", pattern: "identity/apiConnectors", policy: auth.APIConnectorList, handler: (*Server).handleListAPIConnectors, query: queryList},
	{method: "GET", pattern: "identity/apiConnectors/$count", policy: auth.APIConnectorList, handler: (*Server).handleListAPIConnectors, query: queryCount, count: true},
	{method: "POST", pattern: "identity/apiConnectors", policy: auth.APIConnectorCreate, handler: (*Server).handleCreateAPIConnector},
	{method: "GET", pattern: "identity/apiConnectors/{id}", policy: auth.APIConnectorGet, handler: (*Server).handleGetAPIConnector, query: queryEntity},
	{method: "PATCH", pattern: "identity/apiConnectors/{id}", policy: auth.APIConnectorUpdate, handler: (*Server).handleUpdateAPIConnector},
	{method: "DELETE", pattern: "identity/apiConnectors/{id}", policy: auth.APIConnectorDelete, handler: (*Server).handleDeleteAPIConnector},
	{method: "POST", pattern: "identity/apiConnectors/{id}/uploadClientCertificate", policy: auth.APIConnectorUpload, handler: (*Server).handleUploadClientCertificate},

	{method: "GET", pattern: "identity/identityProviders/availableProviderTypes", policy: auth.IdentityProviderRead, handler: (*Server).handleAvailableProviderTypes, family: famProviders},
	{method: "GET", pattern: "identity/identityProviders", policy: auth.IdentityProviderRead, handler: (*Server).handleListIdentityProviders, family: famProviders, query: queryList},
	{method: "GET", pattern: "identity/identityProviders/$count", policy: auth.IdentityProviderRead, handler: (*Server).handleListIdentityProviders, family: famProviders, query: queryCount, count: true},
	{method: "POST", pattern: "identity/identityProviders", policy: auth.IdentityProviderWrite, handler: (*Server).handleCreateIdentityProvider, family: famProviders},
	{method: "GET", pattern: "identity/identityProviders/{id}", policy: auth.IdentityProviderRead, handler: (*Server).handleGetIdentityProvider, family: famProviders, query: queryEntity},
	{method: "PATCH", pattern: "identity/identityProviders/{id}", policy: auth.IdentityProviderWrite, handler: (*Server).handleUpdateIdentityProvider, family: famProviders},
	{method: "DELETE", pattern: "identity/identityProviders/{id}", policy: auth.IdentityProviderWrite, handler: (*Server).handleDeleteIdentityProvider, family: famProviders},

	{method: "GET", pattern: "identityProviders/availableProviderTypes", policy: auth.IdentityProviderRead, handler: (*Server).handleDeprecatedAvailableProviderTypes, family: famDeprecated},
	{method: "GET", pattern: "identityProviders", policy: auth.IdentityProviderRead, handler: (*Server).handleListDeprecatedIdentityProviders, family: famDeprecated, query: queryList},
	{method: "GET", pattern: "identityProviders/$count", policy: auth.IdentityProviderRead, handler: (*Server).handleListDeprecatedIdentityProviders, family: famDeprecated, query: queryCount, count: true},
	{method: "POST", pattern: "identityProviders", policy: auth.IdentityProviderWrite, handler: (*Server).handleCreateDeprecatedIdentityProvider, family: famDeprecated},
	{method: "GET", pattern: "identityProviders/{id}", policy: auth.IdentityProviderRead, handler: (*Server).handleGetDeprecatedIdentityProvider, family: famDeprecated, query: queryEntity},
	{method: "PATCH", pattern: "identityProviders/{id}", policy: auth.IdentityProviderWrite, handler: (*Server).handleUpdateDeprecatedIdentityProvider, family: famDeprecated},
	{method: "DELETE", pattern: "identityProviders/{id}", policy: auth.IdentityProviderWrite, handler: (*Server).handleDeleteDeprecatedIdentityProvider, family: famDeprecated},
}, flowRoutes("b2xUserFlows", famB2XFlows, famB2XFlowProviders), flowRoutes("b2cUserFlows", famB2CFlows, famB2CFlowProviders))

// flowRoutes are the routes of one user-flow collection.
func flowRoutes(coll string, flows, providers family) []route {
	p := "identity/" + coll
	return []route{
		{method: "GET", pattern: p, policy: auth.UserFlowRead, handler: (*Server).handleListUserFlows, family: flows, query: queryList},
		{method: "GET", pattern: p + "/$count", policy: auth.UserFlowRead, handler: (*Server).handleListUserFlows, family: flows, query: queryCount, count: true},
		{method: "POST", pattern: p, policy: auth.UserFlowWrite, handler: (*Server).handleCreateUserFlow, family: flows},
		{method: "GET", pattern: p + "/{id}", policy: auth.UserFlowRead, handler: (*Server).handleGetUserFlow, family: flows, query: queryEntity},
		{method: "DELETE", pattern: p + "/{id}", policy: auth.UserFlowWrite, handler: (*Server).handleDeleteUserFlow, family: flows},
		{method: "GET", pattern: p + "/{id}/apiConnectorConfiguration", policy: auth.UserFlowConnectors, handler: (*Server).handleGetFlowConnectors, family: flows},
		{method: "GET", pattern: p + "/{id}/apiConnectorConfiguration/{step}", policy: auth.UserFlowConnectors, handler: (*Server).handleGetFlowConnectorStep, family: flows},
		{method: "PUT", pattern: p + "/{id}/apiConnectorConfiguration/{step}/$ref", policy: auth.UserFlowConnectors, handler: (*Server).handlePutFlowConnectorRef, family: flows},
		{method: "GET", pattern: p + "/{id}/identityProviders", policy: auth.UserFlowProviders, handler: (*Server).handleListFlowProviders, family: providers, query: queryList},
		{method: "GET", pattern: p + "/{id}/identityProviders/$count", policy: auth.UserFlowProviders, handler: (*Server).handleListFlowProviders, family: providers, query: queryCount, count: true},
		{method: "POST", pattern: p + "/{id}/identityProviders/$ref", policy: auth.UserFlowProviders, handler: (*Server).handleAddFlowProvider, family: providers},
		{method: "DELETE", pattern: p + "/{id}/identityProviders/{ref}/$ref", policy: auth.UserFlowProviders, handler: (*Server).handleRemoveFlowProvider, family: providers},
	}
}

func compile(sets ...[]route) []route {
	var out []route
	for _, rs := range sets {
		for _, r := range rs {
			r.segs = strings.Split(r.pattern, "/")
			r.view = viewOf(r.family)
			out = append(out, r)
		}
	}
	return out
}

// match finds the route for a method and path. It returns the route and its
// parameters in pattern order; or, when the path exists with other methods,
// those methods and the path's family.
func match(method string, segs []segment) (rt *route, params []string, allowed []string, fam family) {
	for i := range routes {
		r := &routes[i]
		if ps, ok := r.matchPath(segs); ok {
			if r.method == method {
				return r, ps, nil, r.family
			}
			allowed = append(allowed, r.method)
			fam = r.family
		}
	}
	return nil, nil, allowed, fam
}

func (r *route) matchPath(segs []segment) (params []string, ok bool) {
	if len(segs) != len(r.segs) {
		return nil, false
	}
	for i, p := range r.segs {
		s := segs[i]
		if strings.HasPrefix(p, "{") {
			if s.call || strings.HasPrefix(s.value, "$") {
				return nil, false
			}
			params = append(params, s.value)
			continue
		}
		if !matchLiteral(s, p) {
			return nil, false
		}
	}
	return params, true
}

// pathFamily finds the API family a path lies in from its leading segments,
// for paths no route matches: below an API the cloud or the sunset removes,
// Graph names the missing segment rather than the unknown one further down.
func pathFamily(segs []segment) (family, bool) {
	lit := func(i int, name string) bool { return len(segs) > i && matchLiteral(segs[i], name) }
	switch {
	case lit(0, "identityProviders"):
		return famDeprecated, true
	case !lit(0, "identity"):
		return 0, false
	case lit(1, "apiConnectors"):
		return famConnectors, true
	case lit(1, "identityProviders"):
		return famProviders, true
	case lit(1, "b2xUserFlows"):
		if lit(3, "identityProviders") {
			return famB2XFlowProviders, true
		}
		return famB2XFlows, true
	case lit(1, "b2cUserFlows"):
		if lit(3, "identityProviders") {
			return famB2CFlowProviders, true
		}
		return famB2CFlows, true
	}
	return 0, false
}
