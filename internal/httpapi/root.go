package httpapi

import (
	"net/http"
	"strings"
)

// Root is the whole origin: Graph under /v1.0 and /beta, the control prefix
// /_idgraph/ (the local CA certificate, health), and every other path to
// the authority (which hands paths it does not know back to Graph's 404).
func Root(api *Server, authority http.Handler, caPEM []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case hasVersionPrefix(p):
			api.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/_idgraph/"):
			control(w, r, caPEM)
		case authority != nil:
			authority.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

func hasVersionPrefix(p string) bool {
	seg, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return strings.EqualFold(seg, "v1.0") || strings.EqualFold(seg, "beta")
}

// control serves the fixed operational URLs.
func control(w http.ResponseWriter, r *http.Request, caPEM []byte) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/_idgraph/ca.pem":
		if caPEM == nil {
			http.Error(w, "this server does not use the local CA", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(caPEM)
	case "/_idgraph/health":
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	default:
		http.NotFound(w, r)
	}
}
