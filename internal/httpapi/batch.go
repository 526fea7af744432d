package httpapi

import (
	"net/http"

	"github.com/idgraph/idgraph/internal/graph"
)

// handleBatch serves POST /{version}/$batch.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, graph.Errorf(graph.KindNotImplemented, "JSON batching is not available yet."))
}
