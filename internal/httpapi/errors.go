package httpapi

import (
	"net/http"

	"github.com/idgraph/idgraph/internal/graph"
)

// The HTTP status and default Graph error code of each error kind. Codes are
// those Graph's directory-backed APIs answer with (spec §4.1, decision D7).
var kinds = map[graph.Kind]struct {
	status int
	code   string
}{
	graph.KindInvalid:              {http.StatusBadRequest, "Request_BadRequest"},
	graph.KindUnauthenticated:      {http.StatusUnauthorized, "InvalidAuthenticationToken"},
	graph.KindForbidden:            {http.StatusForbidden, "Authorization_RequestDenied"},
	graph.KindNotFound:             {http.StatusNotFound, "Request_ResourceNotFound"},
	graph.KindMethodNotAllowed:     {http.StatusMethodNotAllowed, "Request_BadRequest"},
	graph.KindConflict:             {http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue"},
	graph.KindPreconditionFailed:   {http.StatusPreconditionFailed, "PreconditionFailed"},
	graph.KindTooLarge:             {http.StatusRequestEntityTooLarge, "Request_EntityTooLarge"},
	graph.KindUnsupportedMediaType: {http.StatusUnsupportedMediaType, "Request_UnsupportedMediaType"},
	graph.KindNotImplemented:       {http.StatusNotImplemented, "NotImplemented"},
	graph.KindUnavailable:          {http.StatusServiceUnavailable, "ServiceNotAvailable"},
	graph.KindInternal:             {http.StatusInternalServerError, "InternalServerError"},
}

type errorBody struct {
	Error errorObject `json:"error"`
}

type errorObject struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError innerError `json:"innerError"`
}

type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// writeError answers with Graph's error envelope. An error that is not a
// *graph.Error is internal: the caller gets a generic message and the log
// gets the cause.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	rc := reqCtx(r)
	ge := graph.AsError(err)
	if ge == nil {
		ge = &graph.Error{Kind: graph.KindInternal, Message: "An internal server error occurred.", Err: err}
	}
	k, ok := kinds[ge.Kind]
	if !ok {
		k = kinds[graph.KindInternal]
	}
	code := ge.Code
	if code == "" {
		code = k.code
	}
	if rc != nil {
		rc.err = err
	}
	h := w.Header()
	switch ge.Kind {
	case graph.KindUnauthenticated:
		h.Set("WWW-Authenticate", `Bearer realm="", error="invalid_token"`)
	case graph.KindUnavailable:
		h.Set("Retry-After", "1")
	}
	body := errorBody{Error: errorObject{Code: code, Message: ge.Message, InnerError: innerError{
		Date: s.now().UTC().Format("2006-01-02T15:04:05"),
	}}}
	if rc != nil {
		body.Error.InnerError.RequestID = rc.requestID
		body.Error.InnerError.ClientRequestID = rc.clientRequestID
	}
	writeJSONBody(w, k.status, body)
}

func writeJSONBody(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"InternalServerError","message":"An internal server error occurred."}}`)
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

// contentTypeJSON is what Graph sends; clients accept the parameters.
const contentTypeJSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
