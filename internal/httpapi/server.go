package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/idgraph/idgraph/internal/auth"
	"github.com/idgraph/idgraph/internal/directory"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/odata"
	"github.com/idgraph/idgraph/internal/secret"
	"github.com/idgraph/idgraph/internal/store"
)

// Options configure a Server.
type Options struct {
	Store     store.Store
	Directory *directory.Directory
	Keys      *secret.Keyring
	Verifier  *auth.Verifier
	// Profile is the server-wide compatibility profile; a tenant may override it.
	Profile graph.Profile
	// Cloud is the national cloud the server stands in for (decision D8):
	// it decides which APIs exist per version, and the Graph host unless
	// GraphRoot overrides it. Global when empty.
	Cloud graph.Cloud
	// GraphRoot is the Graph host that @odata.context and links name; the
	// cloud's when empty.
	GraphRoot string
	// SunsetDeprecated makes the deprecated identityProvider API answer as
	// removed, as Graph does for an unknown segment (decision D5).
	SunsetDeprecated bool
	Logger           *slog.Logger
	Now              func() time.Time
}

// Server serves the Graph API.
type Server struct {
	store      store.Store
	connectors store.Memo[graph.APIConnector] // for reads only
	dir        *directory.Directory
	keys       *secret.Keyring
	verifier   *auth.Verifier
	profile    graph.Profile
	cloud      graph.Cloud
	sunset     bool
	graphRoot  string
	log        *slog.Logger
	now        func() time.Time
}

// New returns a Server.
func New(o Options) *Server {
	s := &Server{store: o.Store, dir: o.Directory, keys: o.Keys, verifier: o.Verifier, profile: o.Profile,
		cloud: o.Cloud, sunset: o.SunsetDeprecated, graphRoot: strings.TrimRight(o.GraphRoot, "/"), log: o.Logger, now: o.Now}
	if s.profile == "" {
		s.profile = graph.ProfileClassic
	}
	if s.cloud == "" {
		s.cloud = graph.CloudGlobal
	}
	if s.graphRoot == "" {
		s.graphRoot = s.cloud.GraphRoot()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.verifier == nil {
		s.verifier = &auth.Verifier{Keys: o.Directory.PublicKey, Now: s.now}
	}
	return s
}

// requestContext is what the chain learns about a request, for the handler
// and the log.
type requestContext struct {
	requestID       string
	clientRequestID string
	version         string // "v1.0" or "beta"
	route           *route
	id              string   // the first parameter of the route ({id}), unescaped
	params          []string // every parameter of the route, in pattern order
	principal       graph.Principal
	tenant          graph.Tenant
	profile         graph.Profile
	query           odata.Query // the system query options of a GET
	err             error       // the error answered, for the log
}

type ctxKey struct{}

func reqCtx(r *http.Request) *requestContext {
	rc, _ := r.Context().Value(ctxKey{}).(*requestContext)
	return rc
}

// ServeHTTP runs the chain, in order:
//  1. request ids: request-id is new, client-request-id is echoed (headers and error bodies);
//  2. recovery: a panic becomes a 500 with Graph's envelope, never a dropped connection;
//  3. access log: method, route, status, latency, tenant; never bodies or tokens;
//  4. path: only /v1.0 and /beta serve Graph; the path is split as Graph reads it;
//  5. authentication: the bearer token becomes the principal and its tenant;
//  6. routing: the table in routes.go, 405 for a known path, 501 outside the slice;
//  7. authorization: the route's policy under the tenant's profile;
//  8. the handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rc := &requestContext{requestID: uuid.NewString(), clientRequestID: r.Header.Get("client-request-id")}
	if rc.clientRequestID == "" {
		rc.clientRequestID = rc.requestID
	}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, rc))
	h := w.Header()
	h.Set("request-id", rc.requestID)
	h.Set("client-request-id", rc.clientRequestID)
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err := fmt.Errorf("panic: %v", p)
			if !sw.wrote {
				s.writeError(sw, r, err)
			}
			rc.err = err
		}
		s.logRequest(r, rc, sw.status, time.Since(start))
	}()
	s.serve(sw, r, rc)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rc *requestContext) {
	if len(r.URL.EscapedPath())+len(r.URL.RawQuery) > MaxURLSize {
		s.writeError(w, r, graph.Errorf(graph.KindInvalid, "The request URL is longer than %d bytes.", MaxURLSize))
		return
	}
	version, segs, err := splitPath(r.URL.EscapedPath())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch {
	case strings.EqualFold(version, "v1.0"):
		rc.version = "v1.0"
	case strings.EqualFold(version, "beta"):
		rc.version = "beta"
	default:
		s.writeError(w, r, graph.Errorf(graph.KindNotFound, "No Microsoft Graph version segment in '%s': use /v1.0 or /beta.", r.URL.Path))
		return
	}
	if err := s.authenticate(r, rc); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(segs) == 1 && strings.EqualFold(segs[0].value, "$batch") && !segs[0].call {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			s.writeError(w, r, graph.Errorf(graph.KindMethodNotAllowed, "Specified HTTP method '%s' is not allowed for the request uri.", r.Method))
			return
		}
		s.handleBatch(w, r)
		return
	}
	rt, params, allowed, fam := match(r.Method, segs)
	if rt == nil {
		if len(allowed) > 0 {
			if seg, ok := s.available(fam, rc.version); !ok {
				s.writeError(w, r, noSegment(seg))
				return
			}
			if fam.deprecated() {
				setDeprecationHeaders(w.Header())
			}
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			s.writeError(w, r, graph.Errorf(graph.KindMethodNotAllowed, "Specified HTTP method '%s' is not allowed for the request uri.", r.Method))
			return
		}
		if fam, ok := pathFamily(segs); ok {
			if seg, ok := s.available(fam, rc.version); !ok {
				s.writeError(w, r, noSegment(seg))
				return
			}
		}
		s.writeError(w, r, graph.Errorf(graph.KindNotImplemented,
			"'%s' is not part of the identity-configuration API this server implements.", r.URL.Path))
		return
	}
	if seg, ok := s.available(rt.family, rc.version); !ok {
		s.writeError(w, r, noSegment(seg))
		return
	}
	rc.route, rc.params = rt, params
	if len(params) > 0 {
		rc.id = params[0]
	}
	if rt.family.deprecated() {
		setDeprecationHeaders(w.Header())
	}
	if err := auth.Authorize(rc.principal, rt.policy.For(rc.profile), customRoles(rc.tenant)); err != nil {
		s.writeError(w, r, err)
		return
	}
	if rc.query, err = parseOptions(r, rt, rc.version == "beta"); err != nil {
		s.writeError(w, r, err)
		return
	}
	rt.handler(s, w, r)
}

// authenticate verifies the bearer token and loads the caller's tenant.
func (s *Server) authenticate(r *http.Request, rc *requestContext) error {
	h := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(strings.TrimSpace(h), " ")
	if h == "" || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return auth.ErrNoToken
	}
	p, err := s.verifier.Verify(r.Context(), strings.TrimSpace(token))
	if err != nil {
		return err
	}
	rc.principal = p
	if p.TenantID == graph.MSATenantID {
		return auth.ErrDenied // personal accounts: not supported by any operation
	}
	t, err := s.dir.Tenant(r.Context(), p.TenantID)
	if graph.KindOf(err) == graph.KindNotFound {
		return &graph.Error{Kind: graph.KindUnauthenticated, Code: "InvalidAuthenticationToken",
			Message: "Access token validation failure.", Err: fmt.Errorf("unknown tenant %s", p.TenantID)}
	}
	if err != nil {
		return err
	}
	rc.tenant = t
	rc.profile = t.Profile
	if rc.profile == "" {
		rc.profile = s.profile
	}
	return nil
}

func customRoles(t graph.Tenant) auth.CustomRoles {
	if len(t.CustomRoles) == 0 {
		return nil
	}
	return func(id string) []string {
		for _, r := range t.CustomRoles {
			if strings.EqualFold(r.ID, id) {
				return r.Permissions
			}
		}
		return nil
	}
}

// available reports whether an API family exists in a version on the
// server's cloud (spec §2 cloud tables, decision D8), and if not, the path
// segment Graph would name as unknown. In the US Government clouds v1.0 has
// only the deprecated /identityProviders of this slice; beta has all of it.
// b2cUserFlows exists in beta only. With the sunset emulation on, the
// deprecated identityProvider API is gone (decision D5).
func (s *Server) available(f family, version string) (segment string, ok bool) {
	beta := version == "beta"
	switch f {
	case famB2CFlows, famB2CFlowProviders:
		if !beta {
			return "b2cUserFlows", false
		}
	case famConnectors:
		if !beta && s.cloud.USGov() {
			return "apiConnectors", false
		}
	case famProviders:
		if !beta && s.cloud.USGov() {
			return "identityProviders", false
		}
	case famB2XFlows, famB2XFlowProviders:
		if !beta && s.cloud.USGov() {
			return "b2xUserFlows", false
		}
	}
	if s.sunset && f.deprecated() {
		return "identityProviders", false
	}
	return "", true
}

// noSegment is Graph's answer for a path segment its model lacks.
func noSegment(segment string) error {
	return &graph.Error{Kind: graph.KindInvalid, Code: "BadRequest",
		Message: fmt.Sprintf("Resource not found for the segment '%s'.", segment)}
}

// setDeprecationHeaders marks a response of the deprecated identityProvider
// API as Graph's deprecation guideline does (decision D5).
func setDeprecationHeaders(h http.Header) {
	h.Set("Deprecation", "Tue, 24 Aug 2021 00:00:00 GMT")
	h.Set("Sunset", "Wed, 15 Mar 2023 00:00:00 GMT")
	h.Set("Link", `<https://developer.microsoft.com/graph/changelog>; rel="deprecation"; type="text/html"; `+
		`title="The identityProvider API is deprecated and will stop returning data on March 2023. Please use the new identityProviderBase API."`)
}

func (s *Server) logRequest(r *http.Request, rc *requestContext, status int, d time.Duration) {
	route := "unmatched"
	if rc.route != nil {
		route = rc.route.method + " /" + rc.version + "/" + rc.route.pattern
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
		slog.Duration("duration", d), slog.String("request_id", rc.requestID),
		slog.String("client_request_id", rc.clientRequestID),
	}
	if rc.principal.TenantID != "" {
		attrs = append(attrs, slog.String("tid", rc.principal.TenantID), slog.String("appid", rc.principal.AppID))
	}
	level := slog.LevelInfo
	if status >= 500 && status != http.StatusNotImplemented {
		level = slog.LevelError
	}
	if rc.err != nil {
		// Internal causes are logged; they never reach the client. Graph
		// errors carry no secrets or tokens.
		attrs = append(attrs, slog.String("error", rc.err.Error()))
	}
	// The record is handed to the handler directly: Logger.LogAttrs would
	// also walk the stack for the caller's position, which no one reads.
	if h := s.log.Handler(); h.Enabled(r.Context(), level) {
		rec := slog.NewRecord(time.Now(), level, "request", 0)
		rec.AddAttrs(attrs...)
		_ = h.Handle(r.Context(), rec)
	}
}

// statusWriter remembers the status for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
