package tlsca

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
	"time"
)

func TestEnsure(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	f, err := Ensure(dir, []string{"idgraph.test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{f.CA: 0o644, f.Cert: 0o644, f.CAKey: 0o600, f.Key: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(f.CA)
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA file holds no certificate")
	}
	leaf := readCert(t, f.Cert)
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "idgraph.test"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool, CurrentTime: now}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "other.test", Roots: pool, CurrentTime: now}); err == nil {
		t.Error("server certificate verifies for a name it was not made for")
	}
	if _, err := Config(f.Cert, f.Key); err != nil {
		t.Errorf("Config: %v", err)
	}

	// A second start changes nothing.
	before, _ := os.ReadFile(f.Cert)
	if _, err := Ensure(dir, []string{"idgraph.test"}, now); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(f.Cert); !bytes.Equal(before, after) {
		t.Error("a second Ensure replaced a valid server certificate")
	}

	// A new name renews the server certificate, not the CA.
	if _, err := Ensure(dir, []string{"idgraph.test", "new.test"}, now); err != nil {
		t.Fatal(err)
	}
	if ca2, _ := os.ReadFile(f.CA); !bytes.Equal(caPEM, ca2) {
		t.Error("adding a name replaced the CA")
	}
	if err := readCert(t, f.Cert).VerifyHostname("new.test"); err != nil {
		t.Errorf("renewed certificate lacks the new name: %v", err)
	}

	// Near expiry the server certificate is renewed.
	later := now.Add(serverLifetime - renewBefore/2)
	if _, err := Ensure(dir, nil, later); err != nil {
		t.Fatal(err)
	}
	if c := readCert(t, f.Cert); !c.NotAfter.After(later.Add(renewBefore)) {
		t.Errorf("certificate not renewed near expiry: NotAfter %v", c.NotAfter)
	}
}

func TestServesTLSWithTheCA(t *testing.T) {
	f, err := Ensure(t.TempDir(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Config(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	pool := x509.NewCertPool()
	caPEM, _ := PEM(f.CA)
	pool.AppendCertsFromPEM(caPEM)
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS handshake trusting only the local CA: %v", err)
	}
	conn.Close()
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
