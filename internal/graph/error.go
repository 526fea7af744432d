package graph

import (
	"errors"
	"fmt"
)

// Kind classifies an error. It alone decides the HTTP status of a response.
type Kind int

// The kinds of error idgraph reports. KindInternal is the zero value on
// purpose: an error nobody classified is never shown to the caller.
const (
	KindInternal             Kind = iota // 500: a bug or an environment failure
	KindInvalid                          // 400: the request is malformed or breaks a rule
	KindUnauthenticated                  // 401: no usable bearer token
	KindForbidden                        // 403: authenticated but not allowed
	KindNotFound                         // 404: no such resource in the caller's tenant
	KindMethodNotAllowed                 // 405: the path exists, the method does not
	KindConflict                         // 409: the resource already exists or is in use
	KindPreconditionFailed               // 412: If-Match does not match the current ETag
	KindTooLarge                         // 413: request body over the limit
	KindUnsupportedMediaType             // 415: body is not JSON, or an unknown encoding
	KindNotImplemented                   // 501: a Graph path outside this slice
	KindUnavailable                      // 503: transient; the client should retry
)

// Error is the error type of every idgraph layer.
type Error struct {
	Kind    Kind   // decides the HTTP status
	Code    string // Graph error code; empty means the default for Kind
	Message string // safe to show to the caller
	Err     error  // the cause; logged, never sent
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k whose caller-visible message is formatted
// from format and args.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the Kind of the first *Error in err's chain, or KindInternal
// if there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// AsError returns the first *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
