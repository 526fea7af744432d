package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/odata"
)

// JSON batching (spec §4.6, decision D8): POST /{version}/$batch carries up
// to MaxBatchRequests requests. A malformed batch is refused as a whole
// (400) before anything runs. Otherwise every request runs, one after the
// other in an order that respects dependsOn, through the whole chain of
// ServeHTTP (request ids, recovery, log, authentication with the batch's own
// bearer token, routing, authorization, the handler), so an inner request is
// answered exactly as the same request sent alone. The batch answers 200 with
// one response per request, in the order of the requests.

// MaxBatchRequests is the most requests one batch may carry.
const MaxBatchRequests = 20

// batchMethods are the methods an inner request may use.
var batchMethods = []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete}

// batchResponseHeaders are the inner response headers a batch response
// carries, spelled as Graph spells them.
var batchResponseHeaders = []string{
	"Content-Type", "Location", "ETag", "Preference-Applied", "request-id", "client-request-id",
	"Deprecation", "Sunset", "Link", "Retry-After", "Allow", "OData-Version",
}

// batchInnerKey marks the context of a request that runs inside a batch: a
// batch never runs inside another one, however the inner request reached
// the $batch handler.
type batchInnerKey struct{}

// batchRoute names batches in the access log.
var batchRoute = route{method: http.MethodPost, pattern: "$batch"}

var errNestedBatch = graph.Errorf(graph.KindInvalid, "Nested batch requests are not supported.")

// batchItem is one validated request of a batch.
type batchItem struct {
	id        string
	method    string
	url       *url.URL // relative to the version root, query kept
	header    http.Header
	body      []byte // nil: no body
	dependsOn []string
}

// batchResponse is one inner response.
type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// handleBatch serves POST /{version}/$batch.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	if r.Context().Value(batchInnerKey{}) != nil {
		s.writeError(w, r, errNestedBatch)
		return
	}
	rc := reqCtx(r)
	rc.route = &batchRoute
	items, order, err := readBatch(w, r, s.batchRoots(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	responses := make([]*batchResponse, len(items))
	byID := make(map[string]*batchResponse, len(items))
	for _, i := range order {
		it := items[i]
		var res *batchResponse
		for _, dep := range it.dependsOn {
			if d := byID[dep]; d.Status < 200 || d.Status > 299 {
				res = s.failedDependency(it, dep, d.Status)
				break
			}
		}
		if res == nil {
			res = s.runInner(r, rc.version, it)
		}
		responses[i], byID[it.id] = res, res
	}
	writeJSONBody(w, http.StatusOK, struct {
		Responses []*batchResponse `json:"responses"`
	}{responses})
}

// runInner serves one request of the batch through ServeHTTP.
func (s *Server) runInner(outer *http.Request, version string, it batchItem) *batchResponse {
	u := *it.url
	u.Path = "/" + version + "/" + strings.TrimPrefix(it.url.Path, "/")
	if it.url.RawPath != "" {
		u.RawPath = "/" + version + "/" + strings.TrimPrefix(it.url.RawPath, "/")
	}
	h := it.header.Clone()
	h.Del("Authorization")
	if a := outer.Header.Values("Authorization"); len(a) > 0 {
		h["Authorization"] = append([]string(nil), a...)
	}
	var body io.ReadCloser = http.NoBody
	if it.body != nil {
		body = io.NopCloser(bytes.NewReader(it.body))
	}
	ctx := context.WithValue(outer.Context(), batchInnerKey{}, true)
	in := (&http.Request{
		Method: it.method, URL: &u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Body: body, ContentLength: int64(len(it.body)), Host: outer.Host, RemoteAddr: outer.RemoteAddr,
		RequestURI: u.RequestURI(), TLS: outer.TLS,
	}).WithContext(ctx)
	rec := &batchRecorder{header: http.Header{}}
	s.ServeHTTP(rec, in)
	return s.recorded(it, rec)
}

// recorded turns what the inner request answered into its batch response.
func (s *Server) recorded(it batchItem, rec *batchRecorder) *batchResponse {
	sent := rec.sent
	if sent == nil {
		sent = rec.header
	}
	if rec.overflow {
		return s.batchError(it, http.StatusBadRequest, "Request_BadRequest",
			fmt.Sprintf("The response to request '%s' is larger than %d MiB, more than a batch response may carry: send it alone or ask for a smaller page ($top).",
				odata.Clip(it.id), MaxBatchResponseSize>>20),
			sent.Get("request-id"))
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	res := &batchResponse{ID: it.id, Status: status, Headers: map[string]string{}}
	for _, name := range batchResponseHeaders {
		if v := sent.Values(name); len(v) > 0 {
			res.Headers[name] = strings.Join(v, ", ")
		}
	}
	res.Body = batchBody(sent.Get("Content-Type"), rec.body.Bytes())
	return res
}

// batchBody is an inner response body as the batch carries it: the JSON
// value of a JSON response, a string for text, base64 for anything else,
// nothing for an empty body.
func batchBody(contentType string, b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	mt := batchMediaType(contentType)
	var v any
	switch {
	case batchIsJSON(mt) && json.Valid(b):
		return json.RawMessage(b)
	case strings.HasPrefix(mt, "text/") || batchIsJSON(mt):
		v = string(b)
	default:
		v = base64.StdEncoding.EncodeToString(b)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return out
}

func batchIsJSON(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// failedDependency answers a request whose dependency did not succeed: it
// does not run.
func (s *Server) failedDependency(it batchItem, dep string, status int) *batchResponse {
	return s.batchError(it, http.StatusFailedDependency, "FailedDependency",
		fmt.Sprintf("Request '%s' was not run: it depends on request '%s', which answered %d.", it.id, dep, status), "")
}

// batchError is an inner response the batch writes itself, with Graph's
// error envelope. requestID is the inner request's id; a new one when empty.
func (s *Server) batchError(it batchItem, status int, code, message, requestID string) *batchResponse {
	if requestID == "" {
		requestID = uuid.NewString()
	}
	clientID := it.header.Get("client-request-id")
	if clientID == "" {
		clientID = requestID
	}
	b, err := json.Marshal(errorBody{Error: errorObject{Code: code, Message: message, InnerError: innerError{
		Date: s.now().UTC().Format("2006-01-02T15:04:05"), RequestID: requestID, ClientRequestID: clientID,
	}}})
	if err != nil {
		b = nil
	}
	return &batchResponse{ID: it.id, Status: status, Body: b, Headers: map[string]string{
		"Content-Type": contentTypeJSON, "request-id": requestID, "client-request-id": clientID, "OData-Version": "4.0",
	}}
}

// MaxBatchResponseSize bounds the body of one inner response. The largest
// page the server writes (999 items) stays well below it.
const MaxBatchResponseSize = 16 << 20

// batchRecorder is the in-memory ResponseWriter an inner request answers
// to. It keeps at most MaxBatchResponseSize bytes of body.
type batchRecorder struct {
	header   http.Header
	sent     http.Header // the header as it was when the status was written
	status   int
	body     bytes.Buffer
	overflow bool
}

func (w *batchRecorder) Header() http.Header { return w.header }

func (w *batchRecorder) WriteHeader(code int) {
	if w.status != 0 || code < 200 {
		return
	}
	w.status = code
	w.sent = w.header.Clone()
}

func (w *batchRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.overflow || w.body.Len()+len(b) > MaxBatchResponseSize {
		w.overflow = true
		return 0, errTooLargeResponse
	}
	return w.body.Write(b)
}

var errTooLargeResponse = fmt.Errorf("batch: inner response larger than %d bytes", MaxBatchResponseSize)

// --- reading and validating the batch -------------------------------------------

// readBatch reads and validates the batch body. It returns the requests and
// the order to run them in: every request after its dependencies, otherwise
// in the order listed.
func readBatch(w http.ResponseWriter, r *http.Request, roots []string) ([]batchItem, []int, error) {
	o, err := readObject(w, r)
	if err != nil {
		return nil, nil, err
	}
	raw, ok := o.take("requests")
	if len(o.m) > 0 {
		return nil, nil, batchErrorf("The batch body has an unknown property '%s': it may only have 'requests'.", batchFirstKey(o.m))
	}
	var elems []json.RawMessage
	if !ok || len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
		return nil, nil, batchErrorf("The batch body must have a 'requests' array.")
	}
	if len(elems) == 0 || len(elems) > MaxBatchRequests {
		return nil, nil, batchErrorf("A batch must have between 1 and %d requests; this one has %d.", MaxBatchRequests, len(elems))
	}
	items := make([]batchItem, len(elems))
	index := make(map[string]int, len(elems))
	for i, e := range elems {
		it, err := readBatchItem(i, e, roots)
		if err != nil {
			return nil, nil, err
		}
		if _, dup := index[it.id]; dup {
			return nil, nil, batchErrorf("The request id '%s' is used by more than one request of the batch.", it.id)
		}
		index[it.id] = i
		items[i] = it
	}
	for _, it := range items {
		for _, dep := range it.dependsOn {
			if dep == it.id {
				return nil, nil, batchErrorf("Request '%s': 'dependsOn' names the request itself.", it.id)
			}
			if _, ok := index[dep]; !ok {
				return nil, nil, batchErrorf("Request '%s': 'dependsOn' names '%s', which is not the id of a request in this batch.", it.id, dep)
			}
		}
	}
	order, err := batchOrder(items, index)
	if err != nil {
		return nil, nil, err
	}
	return items, order, nil
}

// batchOrder sorts the requests topologically, taking at each step the
// first request in listed order whose dependencies have all run.
func batchOrder(items []batchItem, index map[string]int) ([]int, error) {
	done := make([]bool, len(items))
	order := make([]int, 0, len(items))
	for len(order) < len(items) {
		next := -1
		for i, it := range items {
			if done[i] {
				continue
			}
			ready := true
			for _, dep := range it.dependsOn {
				if !done[index[dep]] {
					ready = false
					break
				}
			}
			if ready {
				next = i
				break
			}
		}
		if next < 0 {
			var ids []string
			for i, it := range items {
				if !done[i] {
					ids = append(ids, "'"+it.id+"'")
				}
			}
			return nil, batchErrorf("The dependsOn of the batch requests %s form a cycle.", strings.Join(ids, ", "))
		}
		done[next] = true
		order = append(order, next)
	}
	return order, nil
}

// readBatchItem validates one element of requests. Messages name the
// request by its id, or by its index until the id is known.
func readBatchItem(i int, raw json.RawMessage, roots []string) (batchItem, error) {
	var it batchItem
	var m map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return it, batchErrorf("The request at index %d of the batch must be a JSON object.", i)
	}
	name := fmt.Sprintf("at index %d", i)
	str := func(member string) (string, bool, error) {
		v, ok := m[member]
		delete(m, member)
		if !ok {
			return "", false, nil
		}
		var s string
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
			return "", true, batchErrorf("Request %s: '%s' must be a string.", name, member)
		}
		return s, true, nil
	}

	id, ok, err := str("id")
	if err != nil {
		return it, err
	}
	if !ok || id == "" {
		return it, batchErrorf("Request %s: 'id' is required and must be a non-empty string.", name)
	}
	it.id = id
	name = "'" + id + "'"

	method, ok, err := str("method")
	if err != nil {
		return it, err
	}
	for _, mt := range batchMethods {
		if strings.EqualFold(method, mt) {
			it.method = mt
		}
	}
	if it.method == "" {
		if !ok {
			return it, batchErrorf("Request %s: 'method' is required.", name)
		}
		return it, batchErrorf("Request %s: 'method' must be one of %s, not '%s'.", name, strings.Join(batchMethods, ", "), method)
	}

	rawURL, ok, err := str("url")
	if err != nil {
		return it, err
	}
	if !ok || rawURL == "" {
		return it, batchErrorf("Request %s: 'url' is required.", name)
	}
	if it.url, err = batchURL(name, rawURL, roots); err != nil {
		return it, err
	}

	it.header = http.Header{}
	if v, ok := m["headers"]; ok && string(v) != "null" {
		var hs map[string]json.RawMessage
		if v[0] != '{' || json.Unmarshal(v, &hs) != nil {
			return it, batchErrorf("Request %s: 'headers' must be an object of strings.", name)
		}
		for k, hv := range hs {
			var s string
			if len(hv) == 0 || hv[0] != '"' || json.Unmarshal(hv, &s) != nil {
				return it, batchErrorf("Request %s: header '%s' must be a string.", name, k)
			}
			if !batchHeaderName(k) {
				return it, batchErrorf("Request %s: '%s' is not a valid header name.", name, k)
			}
			if !batchHeaderValue(s) {
				return it, batchErrorf("Request %s: the value of header '%s' has a control character.", name, k)
			}
			it.header.Add(k, s)
		}
	}
	delete(m, "headers")

	if v, ok := m["body"]; ok && string(v) != "null" {
		ct := it.header.Get("Content-Type")
		if ct == "" {
			return it, batchErrorf("Request %s has a 'body' but no Content-Type header.", name)
		}
		if batchIsJSON(batchMediaType(ct)) {
			it.body = bytes.Clone(v)
		} else {
			var s string
			if v[0] != '"' || json.Unmarshal(v, &s) != nil {
				return it, batchErrorf("Request %s: with Content-Type '%s', 'body' must be a base64 string.", name, ct)
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				b, err = base64.RawStdEncoding.DecodeString(s)
			}
			if err != nil {
				return it, batchErrorf("Request %s: 'body' is not valid base64.", name)
			}
			it.body = b
		}
	}
	delete(m, "body")

	if v, ok := m["dependsOn"]; ok && string(v) != "null" {
		var deps []json.RawMessage
		if v[0] != '[' || json.Unmarshal(v, &deps) != nil {
			return it, batchErrorf("Request %s: 'dependsOn' must be an array of request ids.", name)
		}
		for _, d := range deps {
			var s string
			if len(d) == 0 || d[0] != '"' || json.Unmarshal(d, &s) != nil {
				return it, batchErrorf("Request %s: 'dependsOn' must be an array of request ids.", name)
			}
			if !slices.Contains(it.dependsOn, s) {
				it.dependsOn = append(it.dependsOn, s)
			}
		}
	}
	delete(m, "dependsOn")
	delete(m, "atomicityGroup") // no transactions: ignored

	if len(m) > 0 {
		return it, batchErrorf("Request %s has an unknown property '%s'.", name, batchFirstKey(m))
	}
	return it, nil
}

// batchURL checks an inner request's url: relative to the version root
// ("identity/apiConnectors" or "/identity/apiConnectors"), query kept.
func batchURL(name, raw string, roots []string) (*url.URL, error) {
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < 0x20 || c == 0x7f {
			return nil, batchErrorf("Request %s: 'url' has a control character.", name)
		}
	}
	for _, root := range roots {
		if len(raw) > len(root) && strings.EqualFold(raw[:len(root)], root) && raw[len(root)] == '/' {
			raw = raw[len(root):]
			break
		}
	}
	if strings.HasPrefix(raw, "//") || batchHasScheme(raw) {
		return nil, batchErrorf("Request %s: 'url' must be relative to the version root, such as '/identity/apiConnectors'.", name)
	}
	// Parsed as an absolute path: a relative one may not have a colon in
	// its first segment, which a key such as identityProviders('a:b') has.
	u, err := url.Parse("/" + strings.TrimPrefix(raw, "/"))
	if err != nil || u.Host != "" || u.Scheme != "" {
		return nil, batchErrorf("Request %s: 'url' is not a valid URL.", name)
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	if seg, err := url.PathUnescape(first); err == nil {
		first = seg
	}
	if strings.EqualFold(first, "v1.0") || strings.EqualFold(first, "beta") {
		return nil, batchErrorf("Request %s: 'url' must be relative to the version root: drop the '/%s' prefix.", name, first)
	}
	if seg, _, _, _ := splitKey(first); strings.EqualFold(seg, "$batch") {
		return nil, errNestedBatch
	}
	u.Fragment, u.RawFragment = "", ""
	u.RawQuery = batchEscapeQuery(u.RawQuery)
	return u, nil
}

// batchRoots are the absolute prefixes a request URL of the batch may
// carry instead of being relative: the version root on the cloud's Graph
// host and on the address the client called. The Go SDK sends such URLs
// when a client built for Graph is pointed at another base URL.
func (s *Server) batchRoots(r *http.Request) []string {
	v := reqCtx(r).version
	return []string{s.graphRoot + "/" + v, origin(r) + "/" + v}
}

// batchHasScheme reports whether raw starts with a URI scheme ("https:").
func batchHasScheme(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case c == ':':
			return i > 0
		default:
			return false
		}
	}
	return false
}

// batchEscapeQuery percent-encodes the bytes a query may not carry as they
// are (a space, quotes, non-ASCII...), as a client does before sending the
// same request alone; everything else, escapes included, is kept.
func batchEscapeQuery(q string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"<>\^`+"`{|}", c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// batchMediaType is the lower-case media type of a Content-Type value.
func batchMediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, _, _ = strings.Cut(ct, ";")
	}
	return strings.ToLower(strings.TrimSpace(mt))
}

// batchErrorf is a 400 about the batch. Strings from the batch (ids,
// methods, header names) are clipped: a message never repeats a whole
// oversized input.
func batchErrorf(format string, args ...any) error {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = odata.Clip(s)
		}
	}
	return graph.Errorf(graph.KindInvalid, format, args...)
}

// batchFirstKey is the smallest member name, so that messages are the same on
// every run.
func batchFirstKey(m map[string]json.RawMessage) string {
	first, set := "", false
	for k := range m {
		if !set || k < first {
			first, set = k, true
		}
	}
	return first
}

// batchHeaderName reports whether s is an HTTP field name (an RFC 9110 token).
func batchHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// batchHeaderValue reports whether s has no control byte other than tab.
func batchHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
