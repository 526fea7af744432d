// Package certtest makes real PKCS#12 files for tests.
package certtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// PFX is a generated PKCS#12 file and the facts certificateList must show.
type PFX struct {
	Base64     string // the .pfx, base64 as pkcs12Value carries it
	Password   string
	Thumbprint string
	NotBefore  int64
	NotAfter   int64
}

// New makes a self-signed certificate valid from notBefore to notAfter,
// with its key, in a modern PKCS#12 file protected by password.
func New(cn, password string, notBefore, notAfter time.Time) (PFX, error) {
	return NewWith(pkcs12.Modern, cn, password, notBefore, notAfter)
}

// NewWith is New with a chosen PKCS#12 encoder (legacy or modern algorithms).
func NewWith(enc *pkcs12.Encoder, cn, password string, notBefore, notAfter time.Time) (PFX, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return PFX{}, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore.Truncate(time.Second),
		NotAfter:     notAfter.Truncate(time.Second),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return PFX{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return PFX{}, err
	}
	pfx, err := enc.Encode(key, cert, nil, password)
	if err != nil {
		return PFX{}, err
	}
	sum := sha1.Sum(der)
	return PFX{
		Base64:     base64.StdEncoding.EncodeToString(pfx),
		Password:   password,
		Thumbprint: strings.ToUpper(hex.EncodeToString(sum[:])),
		NotBefore:  cert.NotBefore.Unix(),
		NotAfter:   cert.NotAfter.Unix(),
	}, nil
}

// Valid makes a certificate valid from a day ago for a year.
func Valid(cn, password string) (PFX, error) {
	now := time.Now()
	return New(cn, password, now.Add(-24*time.Hour), now.Add(365*24*time.Hour))
}
