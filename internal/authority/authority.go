// Package authority is idgraph's built-in, Entra-compatible token authority
// (decision D3). It serves, on the same origin as the Graph API:
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration  OIDC discovery
//	GET  /{tenant}/discovery/v2.0/keys                   the signing keys (JWKS)
//	POST /{tenant}/oauth2/v2.0/token                     client credentials; resource-owner password
//	GET  /common/discovery/instance                      MSAL instance discovery
//
// Issuers and endpoints are built from the scheme and host the client used,
// because MSAL requires the issuer to share the authority's scheme, host and
// port. Errors have Entra's shape ({"error", "error_description",
// "error_codes", ...}) so MSAL surfaces them as it does for Entra. Nothing here
// logs or returns a client secret or password.
package authority

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/idgraph/idgraph/internal/auth"
	"github.com/idgraph/idgraph/internal/directory"
	"github.com/idgraph/idgraph/internal/graph"
)

// TokenLifetime is the lifetime of the access tokens the authority issues.
const TokenLifetime = time.Hour

// Handler serves the authority endpoints.
type Handler struct {
	Dir      *directory.Directory
	Log      *slog.Logger
	Now      func() time.Time
	NotFound http.Handler // answers paths that are not the authority's
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Match reports whether path is one of the authority's.
func Match(path string) bool {
	_, _, ok := route(path)
	return ok
}

type endpoint int

const (
	openIDConfiguration endpoint = iota + 1
	keys
	token
	authorize
	instanceDiscovery
	userRealm
)

func (e endpoint) String() string {
	return [...]string{"", "openid-configuration", "keys", "token", "authorize", "instance-discovery", "user-realm"}[e]
}

// route maps a path to an endpoint and its tenant segment.
func route(path string) (endpoint, string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	eq := func(want ...string) bool {
		if len(segs) != len(want)+1 {
			return false
		}
		for i, w := range want {
			if !strings.EqualFold(segs[i+1], w) {
				return false
			}
		}
		return true
	}
	switch {
	case strings.EqualFold(segs[0], "common") && eq("discovery", "instance"):
		return instanceDiscovery, "", true
	case strings.EqualFold(segs[0], "common") && len(segs) == 3 && strings.EqualFold(segs[1], "UserRealm"):
		return userRealm, segs[2], true
	case eq("v2.0", ".well-known", "openid-configuration"):
		return openIDConfiguration, segs[0], true
	case eq("discovery", "v2.0", "keys"):
		return keys, segs[0], true
	case eq("oauth2", "v2.0", "token"):
		return token, segs[0], true
	case eq("oauth2", "v2.0", "authorize"):
		return authorize, segs[0], true
	}
	return 0, "", false
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ep, tenantSeg, ok := route(r.URL.Path)
	if !ok {
		h.NotFound.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	w = rec
	var logAttrs []any
	defer func() {
		h.Log.Info("authority", append([]any{"method", r.Method, "endpoint", ep.String(), "status", rec.status,
			"duration", time.Since(start)}, logAttrs...)...)
	}()
	w.Header().Set("Cache-Control", "no-store")
	origin := Origin(r)
	switch ep {
	case instanceDiscovery:
		h.instanceDiscovery(w, r, origin)
		return
	case userRealm:
		h.userRealm(w, r, tenantSeg)
		return
	}
	tenant, err := h.Dir.Tenant(r.Context(), strings.ToLower(tenantSeg))
	if err != nil {
		code := 90002
		if graph.KindOf(err) != graph.KindNotFound {
			code = 0
		}
		h.aadError(w, http.StatusBadRequest, "invalid_tenant", code,
			fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenantSeg))
		return
	}
	logAttrs = append(logAttrs, "tid", tenant.ID)
	switch ep {
	case openIDConfiguration:
		h.openIDConfiguration(w, r, origin, tenant.ID)
	case keys:
		h.keys(w, r, origin, tenant.ID)
	case token:
		clientID := h.token(w, r, origin, tenant.ID)
		logAttrs = append(logAttrs, "client_id", clientID)
	case authorize:
		h.aadError(w, http.StatusBadRequest, "unsupported_response_type", 70000,
			"The authorization code flow is not available on this authority: use client credentials, or the resource owner password grant for delegated tokens.")
	}
}

// Origin is the scheme and host the client used for this request.
func Origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (h *Handler) openIDConfiguration(w http.ResponseWriter, r *http.Request, origin, tenant string) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		h.aadError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts GET requests.")
		return
	}
	base := origin + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                auth.Issuer(origin, tenant),
		"request_uri_parameter_supported":       false,
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"grant_types_supported":                 []string{"client_credentials", "password"},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "azp", "appid", "roles", "scp", "wids", "idtyp"},
		"tenant_region_scope":                   "NA",
		"cloud_instance_name":                   "microsoftonline.com",
		"msgraph_host":                          "graph.microsoft.com",
	})
}

func (h *Handler) keys(w http.ResponseWriter, r *http.Request, origin, tenant string) {
	// The authority always publishes a key: the first is made on demand.
	if _, err := h.Dir.SigningKey(r.Context()); err != nil {
		h.serverError(w, err)
		return
	}
	ks, err := h.Dir.SigningKeys(r.Context())
	if err != nil {
		h.serverError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(ks))
	for _, k := range ks {
		b, err := (&jose.JSONWebKey{Key: &k.Key.PublicKey, KeyID: k.ID, Use: "sig", Algorithm: "RS256"}).MarshalJSON()
		if err != nil {
			h.serverError(w, err)
			return
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		m["issuer"] = auth.Issuer(origin, tenant)
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}

// userRealm tells MSAL that a user's domain is managed (not federated), which
// MSAL Go asks before a username/password sign-in.
func (h *Handler) userRealm(w http.ResponseWriter, r *http.Request, upn string) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		h.aadError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts GET requests.")
		return
	}
	_, domain, _ := strings.Cut(upn, "@")
	writeJSON(w, http.StatusOK, map[string]any{
		"ver": "1.0", "account_type": "Managed", "domain_name": domain,
		"cloud_instance_name": "microsoftonline.com", "cloud_audience_urn": "urn:federation:MicrosoftOnline",
	})
}

func (h *Handler) instanceDiscovery(w http.ResponseWriter, r *http.Request, origin string) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		h.aadError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts GET requests.")
		return
	}
	host := r.Host
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": origin + "/{tenant}/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host, "preferred_cache": host, "aliases": []string{host},
		}},
	})
}

// token answers the token endpoint and returns the client id it served.
func (h *Handler) token(w http.ResponseWriter, r *http.Request, origin, tenant string) string {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		h.aadError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return ""
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.aadError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded.")
		return ""
	}
	// Only the body counts: a query string (MSAL adds ?client-request-id=)
	// is ignored, and so are claims and telemetry fields.
	form := r.PostForm
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		uu, err1 := url.QueryUnescape(u)
		pp, err2 := url.QueryUnescape(p)
		if err1 == nil && err2 == nil {
			clientID, secret = uu, pp
		}
	}
	if clientID == "" {
		h.aadError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return ""
	}
	app, err := h.Dir.App(r.Context(), tenant, clientID)
	if err != nil {
		// Not echoed or logged: a client that swapped its id and secret
		// would otherwise leave the secret in the log.
		h.aadError(w, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with the given identifier was not found in the directory '%s'.", tenant))
		return ""
	}
	scopes := strings.Fields(form.Get("scope"))
	if len(scopes) == 0 {
		h.aadError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
		return clientID
	}
	opts := directory.MintOptions{Tenant: tenant, Issuer: origin, AppID: app.ClientID, TTL: TokenLifetime}
	switch grant := form.Get("grant_type"); grant {
	case "client_credentials":
		if secret == "" {
			h.aadError(w, http.StatusUnauthorized, "invalid_client", 7000216,
				"'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
			return clientID
		}
		if !directory.CheckAppSecret(app, secret) {
			h.invalidSecret(w, clientID)
			return clientID
		}
		if !defaultScope(scopes) {
			h.aadError(w, http.StatusBadRequest, "invalid_scope", 1002012,
				fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", form.Get("scope")))
			return clientID
		}
		opts.ObjectID = app.ObjectID
		opts.Roles = slices.Clone(app.Roles)
		if opts.Roles == nil {
			opts.Roles = []string{}
		}
	case "password":
		// A confidential client proves itself before any password is checked,
		// so only holders of its secret reach the slow hash; an app registered
		// as a public client (SDK username/password credentials) sends none.
		if secret == "" && !app.PublicClient {
			h.aadError(w, http.StatusUnauthorized, "invalid_client", 7000218,
				"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
			return clientID
		}
		if secret != "" && !directory.CheckAppSecret(app, secret) {
			h.invalidSecret(w, clientID)
			return clientID
		}
		granted, ok := delegatedScopes(app, scopes)
		if !ok {
			h.aadError(w, http.StatusBadRequest, "invalid_scope", 70011,
				fmt.Sprintf("The provided request must include a 'scope' input parameter granted to the application: %s.", form.Get("scope")))
			return clientID
		}
		// An unknown user costs the same password check as a known one, so
		// the answer's timing does not tell which users exist. The checks are
		// deliberately slow; at most a few run at once, so callers who know
		// only a client id cannot occupy every CPU with them.
		user, err := h.Dir.User(r.Context(), tenant, form.Get("username"))
		if err != nil {
			user = directory.DecoyUser()
		}
		if !acquirePasswordCheck(r.Context()) {
			w.Header().Set("Retry-After", "1")
			h.aadError(w, http.StatusServiceUnavailable, "temporarily_unavailable", 0, "Too many sign-ins are being checked right now; retry the request.")
			return clientID
		}
		passwordOK := directory.CheckPassword(user, form.Get("password"))
		releasePasswordCheck()
		if !passwordOK || err != nil {
			h.aadError(w, http.StatusBadRequest, "invalid_grant", 50126, "Error validating credentials due to invalid username or password.")
			return clientID
		}
		opts.ObjectID, opts.Scopes, opts.WIDs = user.ID, granted, user.DirectoryRoles
	case "":
		h.aadError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return clientID
	default:
		h.aadError(w, http.StatusBadRequest, "unsupported_grant_type", 70003,
			fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant))
		return clientID
	}
	key, err := h.Dir.SigningKey(r.Context())
	if err != nil {
		h.serverError(w, err)
		return clientID
	}
	tok, err := directory.MintWith(key, opts, h.now())
	if err != nil {
		h.serverError(w, err)
		return clientID
	}
	secs := int(TokenLifetime.Seconds()) - 1
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
	return clientID
}

// passwordChecks bounds the password hashes computed at once.
var passwordChecks = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))

// acquirePasswordCheck waits up to two seconds for a password-check slot.
func acquirePasswordCheck(ctx context.Context) bool {
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case passwordChecks <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func releasePasswordCheck() { <-passwordChecks }

// defaultScope reports whether scopes ask for Graph's .default (besides the
// OIDC scopes MSAL adds).
func defaultScope(scopes []string) bool {
	found := false
	for _, s := range scopes {
		switch {
		case isOIDCScope(s):
		case isGraphDefault(s):
			found = true
		default:
			return false
		}
	}
	return found
}

func isOIDCScope(s string) bool {
	switch strings.ToLower(s) {
	case "openid", "offline_access", "profile", "email":
		return true
	}
	return false
}

func isGraphDefault(s string) bool {
	res, ok := strings.CutSuffix(s, "/.default")
	return ok && slices.ContainsFunc(auth.DefaultAudiences, func(g string) bool {
		return strings.EqualFold(strings.TrimSuffix(g, "/"), strings.TrimSuffix(res, "/"))
	})
}

// delegatedScopes resolves the scopes of a user token: .default means every
// delegated permission granted to the app; named Graph scopes must each be
// granted.
func delegatedScopes(app graph.App, scopes []string) ([]string, bool) {
	var out []string
	for _, s := range scopes {
		switch {
		case isOIDCScope(s):
		case isGraphDefault(s):
			out = append(out, app.Scopes...)
		default:
			name := s
			for _, g := range auth.DefaultAudiences {
				if p, ok := strings.CutPrefix(s, strings.TrimSuffix(g, "/")+"/"); ok {
					name = p
				}
			}
			if !slices.Contains(app.Scopes, name) {
				return nil, false
			}
			out = append(out, name)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return out, len(out) > 0
}

func (h *Handler) invalidSecret(w http.ResponseWriter, clientID string) {
	h.aadError(w, http.StatusUnauthorized, "invalid_client", 7000215,
		fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
}

// aadError answers with Entra's error shape.
func (h *Handler) aadError(w http.ResponseWriter, status int, code string, aadsts int, message string) {
	trace, corr := uuid.NewString(), uuid.NewString()
	ts := h.now().UTC().Format("2006-01-02 15:04:05Z")
	desc := message
	codes := []int{}
	if aadsts != 0 {
		desc = fmt.Sprintf("AADSTS%d: %s", aadsts, message)
		codes = []int{aadsts}
	}
	desc += fmt.Sprintf(" Trace ID: %s Correlation ID: %s Timestamp: %s", trace, corr, ts)
	writeJSON(w, status, map[string]any{
		"error": code, "error_description": desc, "error_codes": codes, "timestamp": ts,
		"trace_id": trace, "correlation_id": corr,
	})
}

func (h *Handler) serverError(w http.ResponseWriter, err error) {
	h.Log.Error("authority", "error", err.Error())
	h.aadError(w, http.StatusInternalServerError, "temporarily_unavailable", 0, "The authority could not complete the request.")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
