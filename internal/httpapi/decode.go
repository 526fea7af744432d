package httpapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/idgraph/idgraph/internal/graph"
)

// Limits on request bodies (decision D7).
const (
	MaxBodySize  = 4 << 20 // bytes, after decompression too
	MaxJSONDepth = 32
	MaxURLSize   = 8 << 10 // bytes of path and query (decision D8)
)

var errBadJSON = graph.Errorf(graph.KindInvalid,
	"Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")

// readObject reads a request body that must be one JSON object: content type
// application/json, optionally gzip-encoded, at most MaxBodySize bytes,
// nested at most MaxJSONDepth deep, with no duplicate member names.
func readObject(w http.ResponseWriter, r *http.Request) (object, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || !strings.EqualFold(mt, "application/json") {
		return object{}, graph.Errorf(graph.KindUnsupportedMediaType,
			"The request body must be JSON: set 'Content-Type: application/json'.")
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, MaxBodySize)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return object{}, bodyError(err)
		}
		defer zr.Close()
		body = zr
	default:
		return object{}, graph.Errorf(graph.KindUnsupportedMediaType, "Content-Encoding '%s' is not supported; use gzip or none.", enc)
	}
	data, err := io.ReadAll(io.LimitReader(body, MaxBodySize+1))
	if err != nil {
		return object{}, bodyError(err)
	}
	if len(data) > MaxBodySize {
		return object{}, errTooLarge
	}
	if err := checkJSON(data); err != nil {
		return object{}, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return object{}, errBadJSON
	}
	return object{m: m}, nil
}

var errTooLarge = graph.Errorf(graph.KindTooLarge, "The request body is larger than %d bytes.", MaxBodySize)

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge
	}
	return &graph.Error{Kind: graph.KindInvalid, Code: "Request_BadRequest", Message: errBadJSON.Message, Err: err}
}

// checkJSON walks data once: it must be a single JSON object, no deeper than
// MaxJSONDepth, without duplicate names in any object.
func checkJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []jsonFrame
	first := true
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errBadJSON
		}
		if first {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return graph.Errorf(graph.KindInvalid, "The request body must be a JSON object.")
			}
			first = false
		} else if len(stack) == 0 {
			return errBadJSON // content after the top-level object
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expect {
			name, ok := tok.(string)
			if !ok {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:n-1]
					markValue(stack)
					continue
				}
				return errBadJSON
			}
			if stack[n-1].names[name] {
				return graph.Errorf(graph.KindInvalid, "Property '%s' appears more than once in the request body.", name)
			}
			stack[n-1].names[name] = true
			stack[n-1].expect = false
			continue
		}
		switch d := tok.(type) {
		case json.Delim:
			switch d {
			case '{', '[':
				if len(stack) >= MaxJSONDepth {
					return graph.Errorf(graph.KindInvalid, "The request body is nested deeper than %d levels.", MaxJSONDepth)
				}
				stack = append(stack, jsonFrame{object: d == '{', names: map[string]bool{}, expect: d == '{'})
			case '}', ']':
				stack = stack[:len(stack)-1]
				markValue(stack)
			}
		default:
			markValue(stack)
		}
	}
	if first || len(stack) != 0 {
		return errBadJSON
	}
	return nil
}

type jsonFrame struct {
	object bool
	names  map[string]bool
	expect bool // in an object: the next token is a name
}

// markValue records that a value was read in the innermost container.
func markValue(stack []jsonFrame) {
	if n := len(stack); n > 0 && stack[n-1].object {
		stack[n-1].expect = true
	}
}

// object is a decoded JSON object whose members are taken one by one, so that
// what is left at the end is unknown to the type being decoded.
type object struct {
	m    map[string]json.RawMessage
	path string // "authenticationConfiguration." for nested objects, for messages
}

func (o object) take(name string) (json.RawMessage, bool) {
	v, ok := o.m[name]
	delete(o.m, name)
	return v, ok
}

// has reports whether the member is present, without taking it.
func (o object) has(name string) bool { _, ok := o.m[name]; return ok }

// str takes a string member. A member that is present but not a string (null
// included) is an error naming the property.
func (o object) str(name string) (string, bool, error) {
	raw, ok := o.take(name)
	if !ok {
		return "", false, nil
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", true, graph.Errorf(graph.KindInvalid, "Invalid value for property '%s%s': expected a string.", o.path, name)
	}
	return s, true, nil
}

// obj takes an object member.
func (o object) obj(name string) (object, bool, error) {
	raw, ok := o.take(name)
	if !ok {
		return object{}, false, nil
	}
	var m map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return object{}, true, graph.Errorf(graph.KindInvalid, "Invalid value for property '%s%s': expected an object.", o.path, name)
	}
	return object{m: m, path: o.path + name + "."}, true, nil
}

// secret takes a write-only string member. The value Graph shows instead of
// a secret (a mask) means "unchanged": a client that reads an entity and sends
// it back must not turn its secret into asterisks.
func (o object) secret(name string) (string, bool, error) {
	v, ok, err := o.str(name)
	if err != nil || !ok {
		return "", false, err
	}
	if v == graph.MaskSix || v == graph.MaskFive {
		return "", false, nil
	}
	return v, true, nil
}

// odataType takes @odata.type and returns the type name without "#" and
// "microsoft.graph.", or "" if absent.
func (o object) odataType() (string, bool, error) {
	t, ok, err := o.str("@odata.type")
	if err != nil || !ok {
		return "", ok, err
	}
	t = strings.TrimPrefix(t, "#")
	if len(t) > len(graphNS) && strings.EqualFold(t[:len(graphNS)], graphNS) {
		t = t[len(graphNS):]
	}
	return t, true, nil
}

const graphNS = "microsoft.graph."

// rest reports the first member nobody took (in name order, so the message
// is the same on every run): a property the type lacks, or a read-only one.
func (o object) rest(typeName string) error {
	if len(o.m) == 0 {
		return nil
	}
	name := slices.Min(slices.Collect(maps.Keys(o.m)))
	if strings.HasPrefix(name, "@") {
		return graph.Errorf(graph.KindInvalid, "The annotation '%s%s' is not supported in this request body.", o.path, name)
	}
	return graph.Errorf(graph.KindInvalid,
		"Property '%s%s' does not exist on type 'microsoft.graph.%s'. Make sure to only use property names that are defined by the type.",
		o.path, name, typeName)
}

// readOnly reports a read-only property sent by the client.
func readOnly(name string) error {
	return graph.Errorf(graph.KindInvalid, "Property '%s' is read-only and cannot be set.", name)
}

// checkID takes an "id" member: it is read-only, so it may only repeat the id
// in the path (the classic revision lists id among the properties to send; a
// client that echoes a read entity back sends it too).
func (o object) checkID(pathID string) error {
	id, ok, err := o.str("id")
	if err != nil || !ok {
		return err
	}
	if pathID == "" || !strings.EqualFold(id, pathID) {
		return readOnly("id")
	}
	return nil
}

// number takes a numeric member.
func (o object) number(name string) (float64, bool, error) {
	raw, ok := o.take(name)
	if !ok {
		return 0, false, nil
	}
	var f float64
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) || json.Unmarshal(raw, &f) != nil {
		return 0, true, graph.Errorf(graph.KindInvalid, "Invalid value for property '%s%s': expected a number.", o.path, name)
	}
	return f, true, nil
}

// boolean takes a Boolean member.
func (o object) boolean(name string) (bool, bool, error) {
	raw, ok := o.take(name)
	if !ok {
		return false, false, nil
	}
	var b bool
	if s := string(raw); s != "true" && s != "false" || json.Unmarshal(raw, &b) != nil {
		return false, true, graph.Errorf(graph.KindInvalid, "Invalid value for property '%s%s': expected true or false.", o.path, name)
	}
	return b, true, nil
}
