// Package certinfo reads uploaded PKCS#12 (.pfx) files: it checks that the
// file opens with its password and holds a certificate with its private key,
// and extracts what Graph's certificateList shows (thumbprint, notBefore,
// notAfter). Parsing is delegated to software.sslmate.com/src/go-pkcs12,
// which understands both legacy and modern (AES, SHA-256 MAC) files.
package certinfo

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/idgraph/idgraph/internal/graph"
	"software.sslmate.com/src/go-pkcs12"
)

// MaxPKCS12Size bounds the decoded .pfx accepted.
const MaxPKCS12Size = 256 << 10

// Info is what certificateList shows of one certificate.
type Info struct {
	Thumbprint string // upper-case hex SHA-1 of the leaf certificate, as Windows shows it
	NotBefore  int64  // epoch seconds
	NotAfter   int64  // epoch seconds
}

// Parse opens pfx with password and describes its leaf certificate. A file
// that cannot be opened is reported as KindInvalid, without detail that could
// help guess the password.
func Parse(pfx []byte, password string) (Info, error) {
	if len(pfx) == 0 {
		return Info{}, graph.Errorf(graph.KindInvalid, "pkcs12Value is required and cannot be empty.")
	}
	if len(pfx) > MaxPKCS12Size {
		return Info{}, graph.Errorf(graph.KindInvalid, "pkcs12Value must be at most %d bytes.", MaxPKCS12Size)
	}
	if _, err := checkWorkFactor(pfx); err != nil {
		return Info{}, &graph.Error{Kind: graph.KindInvalid, Code: "Request_BadRequest",
			Message: fmt.Sprintf("The PKCS#12 file uses more than %d key-derivation iterations.", MaxIterations), Err: err}
	}
	key, cert, err := decodeBounded(pfx, password)
	if err != nil {
		if graph.AsError(err) != nil {
			return Info{}, err
		}
		return Info{}, &graph.Error{Kind: graph.KindInvalid, Code: "Request_BadRequest",
			Message: "The pkcs12Value could not be read as a PKCS#12 file with the given password.", Err: err}
	}
	if key == nil || cert == nil {
		return Info{}, graph.Errorf(graph.KindInvalid, "The PKCS#12 file must hold a certificate and its private key.")
	}
	sum := sha1.Sum(cert.Raw)
	return Info{
		Thumbprint: strings.ToUpper(hex.EncodeToString(sum[:])),
		NotBefore:  cert.NotBefore.Unix(),
		NotAfter:   cert.NotAfter.Unix(),
	}, nil
}

var errPanic = errors.New("pkcs12: malformed input")

// Decoding runs in a small pool with a deadline. Iteration counts inside an
// encrypted container (or in a file that is not DER) cannot be read before
// decoding, so a hostile file may still be slow: it then occupies one pool
// slot until it finishes, and the request is answered when the deadline
// passes, instead of holding every CPU.
var (
	decodeSlots    = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))
	decodeDeadline = 10 * time.Second
)

var errBusy = &graph.Error{Kind: graph.KindUnavailable, Code: "ServiceNotAvailable",
	Message: "Too many certificates are being read right now; retry the request."}

var errSlow = graph.Errorf(graph.KindInvalid,
	"The PKCS#12 file could not be read in time: its key-derivation work factor is too high.")

func decodeBounded(pfx []byte, password string) (any, *x509.Certificate, error) {
	timer := time.NewTimer(decodeDeadline)
	defer timer.Stop()
	select {
	case decodeSlots <- struct{}{}:
	case <-timer.C:
		return nil, nil, errBusy
	}
	type result struct {
		key  any
		cert *x509.Certificate
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-decodeSlots }()
		key, cert, _, err := decode(pfx, password)
		done <- result{key, cert, err}
	}()
	select {
	case r := <-done:
		return r.key, r.cert, r.err
	case <-timer.C:
		return nil, nil, errSlow
	}
}

// decode never lets a malformed file crash the server.
func decode(pfx []byte, password string) (key any, cert *x509.Certificate, ca []*x509.Certificate, err error) {
	defer func() {
		if r := recover(); r != nil {
			key, cert, ca, err = nil, nil, nil, errPanic
		}
	}()
	return pkcs12.DecodeChain(pfx, password)
}
