package httpapi

import (
	"net/http"
	"strings"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// contextURL builds an @odata.context value for the request's version.
func (s *Server) contextURL(r *http.Request, fragment string) string {
	return s.graphRoot + "/" + reqCtx(r).version + "/$metadata#" + fragment
}

// writeEntity answers with one entity and its ETag.
func writeEntity(w http.ResponseWriter, status int, version int64, body any) {
	w.Header().Set("ETag", store.ETag(version))
	writeJSONBody(w, status, body)
}

// writeNoContent answers 204; the ETag tells the client the new version.
func writeNoContent(w http.ResponseWriter, version int64) {
	if version > 0 {
		w.Header().Set("ETag", store.ETag(version))
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// preferReturn reads the OData return preference: "minimal",
// "representation" or "" when the client expressed none.
func preferReturn(r *http.Request) string {
	for _, v := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "return") {
				switch val = strings.ToLower(strings.Trim(strings.TrimSpace(val), `"`)); val {
				case "minimal", "representation":
					return val
				}
			}
		}
	}
	return ""
}

// writeUpdated answers a successful PATCH. The default is def (true: 200 with
// the entity, false: 204); a Prefer: return=... header overrides it and
// Preference-Applied says so (decision D1).
func writeUpdated(w http.ResponseWriter, r *http.Request, def bool, version int64, body func() any) {
	representation := def
	switch preferReturn(r) {
	case "minimal":
		representation = false
		w.Header().Set("Preference-Applied", "return=minimal")
	case "representation":
		representation = true
		w.Header().Set("Preference-Applied", "return=representation")
	}
	if !representation {
		writeNoContent(w, version)
		return
	}
	writeEntity(w, http.StatusOK, version, body())
}

// checkIfMatch enforces an If-Match header against the current version.
func checkIfMatch(r *http.Request, version int64) error {
	h := r.Header.Values("If-Match")
	if len(h) == 0 {
		return nil
	}
	current := opaqueTag(store.ETag(version))
	for _, v := range h {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || opaqueTag(t) == current {
				return nil
			}
		}
	}
	return &graph.Error{Kind: graph.KindPreconditionFailed, Code: "PreconditionFailed",
		Message: "The resource has changed since it was read: the If-Match ETag does not match the current one."}
}

// opaqueTag drops the weakness marker: If-Match here compares versions.
func opaqueTag(t string) string { return strings.TrimPrefix(t, "W/") }

// collection is an OData collection response.
type collection struct {
	Context string `json:"@odata.context,omitempty"`
	Value   any    `json:"value"`
}
