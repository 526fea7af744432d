package secret

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealOpenRoundTrip(t *testing.T) {
	k, err := New(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	aad := AAD("t1", "apiConnector", "ID-1", "password")
	for _, plain := range [][]byte{nil, []byte(""), []byte("p@ss"), bytes.Repeat([]byte("x"), 70000)} {
		sealed, err := k.Seal(plain, aad)
		if err != nil {
			t.Fatal(err)
		}
		if len(plain) > 3 && bytes.Contains(sealed, plain) {
			t.Fatalf("sealed value contains the plaintext")
		}
		got, err := k.Open(sealed, aad)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, want %q", got, plain)
		}
	}
}

func TestSealIsRandomised(t *testing.T) {
	k, _ := New(testKey(1))
	a, _ := k.Seal([]byte("same"), "x")
	b, _ := k.Seal([]byte("same"), "x")
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same value are identical")
	}
}

func TestOpenRefusesWrongPlaceKeyOrDamage(t *testing.T) {
	k, _ := New(testKey(1))
	other, _ := New(testKey(2))
	aad := AAD("tenant-a", "identityProvider", "Amazon-OAUTH", "clientSecret")
	sealed, _ := k.Seal([]byte("s3cret"), aad)
	cases := []struct {
		name   string
		k      *Keyring
		sealed []byte
		aad    string
	}{
		{"other tenant", k, sealed, AAD("tenant-b", "identityProvider", "Amazon-OAUTH", "clientSecret")},
		{"other field", k, sealed, AAD("tenant-a", "identityProvider", "Amazon-OAUTH", "clientId")},
		{"other object", k, sealed, AAD("tenant-a", "identityProvider", "Google-OAUTH", "clientSecret")},
		{"other key", other, sealed, aad},
		{"truncated", k, sealed[:len(sealed)-1], aad},
		{"flipped bit", k, flip(sealed, len(sealed)-3), aad},
		{"flipped wrap", k, flip(sealed, 1+idLen+nonceLen+2), aad},
		{"empty", k, nil, aad},
	}
	for _, c := range cases {
		if _, err := c.k.Open(c.sealed, c.aad); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: Open err = %v, want ErrOpen", c.name, err)
		}
	}
	// Ids compare case-insensitively, so the place does too.
	if _, err := k.Open(sealed, AAD("tenant-a", "identityProvider", "amazon-oauth", "clientSecret")); err != nil {
		t.Errorf("Open with case-folded id: %v", err)
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x40
	return c
}

func TestParseKey(t *testing.T) {
	key := testKey(7)
	for _, s := range []string{
		"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
		"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc",
		"0707070707070707070707070707070707070707070707070707070707070707",
		"  BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
	} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParseKey(%q) = %x, %v; want %x", s, got, err, key)
		}
	}
	for _, s := range []string{"", "short", "BwcHBw==", "zz07070707070707070707070707070707070707070707070707070707070707"} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) succeeded, want error", s)
		}
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "secret.key")
	a, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	b, err := LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("second load = %x, %v; want %x", b, err, a)
	}
	if k1, k2 := mustNew(t, a), mustNew(t, testKey(9)); k1.Fingerprint() == k2.Fingerprint() {
		t.Error("different keys share a fingerprint")
	}
}

func mustNew(t *testing.T, key []byte) *Keyring {
	t.Helper()
	k, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Processes starting together on a new data directory all end up with the
// one key that was written, never a partial file.
func TestLoadOrCreateKeyFileConcurrent(t *testing.T) {
	for round := range 5 {
		path := filepath.Join(t.TempDir(), "secret.key")
		const n = 16
		keys := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				keys[i], errs[i] = LoadOrCreateKeyFile(path)
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d: caller %d: %v", round, i, errs[i])
			}
			if !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("round %d: callers got different keys", round)
			}
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Errorf("round %d: directory holds %d entries, want only secret.key", round, len(entries))
		}
	}
}
