// Package secret seals the write-only values idgraph stores (passwords,
// client secrets, certificate material, signing keys) with AES-256-GCM.
//
// Each value gets its own random data key (DEK); the DEK is wrapped by the
// key-encryption key (KEK) from configuration. The additional data binds the
// ciphertext to where it lives (tenant, collection, object, field), so a value
// copied to another row, tenant or field fails to open. Nothing here ever
// returns a secret to a caller of the API: opening is used only where the
// server itself needs the plaintext (signing keys).
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of a key-encryption key in bytes.
const KeySize = 32

const (
	formatV1 = 1
	idLen    = 8
	nonceLen = 12
	wrapLen  = KeySize + 16 // wrapped DEK + GCM tag
)

// Keyring seals and opens values with one KEK.
type Keyring struct {
	kek cipher.AEAD
	id  [idLen]byte
}

// New returns a Keyring for a 32-byte key.
func New(key []byte) (*Keyring, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key must be %d bytes, got %d", KeySize, len(key))
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	k := &Keyring{kek: aead}
	sum := sha256.Sum256(append([]byte("idgraph kek id\x00"), key...))
	copy(k.id[:], sum[:])
	return k, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Fingerprint identifies the key without revealing it; replicas compare it to
// make sure they share one key.
func (k *Keyring) Fingerprint() string { return hex.EncodeToString(k.id[:]) }

// AAD builds the additional data that binds a sealed value to its place.
func AAD(tenant, collection, id, field string) string {
	return strings.Join([]string{tenant, collection, strings.ToLower(id), field}, "|")
}

// Seal encrypts plaintext for the place named by aad.
func (k *Keyring) Seal(plaintext []byte, aad string) ([]byte, error) {
	dek := make([]byte, KeySize)
	if _, err := rand.Read(dek); err != nil {
		return nil, err
	}
	data, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 1+idLen+nonceLen+wrapLen+nonceLen+len(plaintext)+16)
	out = append(out, formatV1)
	out = append(out, k.id[:]...)
	wrapNonce := make([]byte, nonceLen)
	dataNonce := make([]byte, nonceLen)
	if _, err := rand.Read(wrapNonce); err != nil {
		return nil, err
	}
	if _, err := rand.Read(dataNonce); err != nil {
		return nil, err
	}
	ad := []byte(aad)
	out = append(out, wrapNonce...)
	out = k.kek.Seal(out, wrapNonce, dek, ad)
	out = append(out, dataNonce...)
	out = data.Seal(out, dataNonce, plaintext, ad)
	return out, nil
}

// ErrOpen reports a sealed value that this key cannot open: a different key,
// a different place, or damaged bytes.
var ErrOpen = errors.New("secret: cannot open sealed value (wrong key, wrong place or damaged)")

// Open decrypts a value sealed for the place named by aad.
func (k *Keyring) Open(sealed []byte, aad string) ([]byte, error) {
	if len(sealed) < 1+idLen+nonceLen+wrapLen+nonceLen+16 || sealed[0] != formatV1 {
		return nil, ErrOpen
	}
	if string(sealed[1:1+idLen]) != string(k.id[:]) {
		return nil, ErrOpen
	}
	p := sealed[1+idLen:]
	ad := []byte(aad)
	dek, err := k.kek.Open(nil, p[:nonceLen], p[nonceLen:nonceLen+wrapLen], ad)
	if err != nil {
		return nil, ErrOpen
	}
	p = p[nonceLen+wrapLen:]
	data, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	out, err := data.Open(nil, p[:nonceLen], p[nonceLen:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}

// ParseKey decodes a key given as base64 (standard or URL alphabet, padded or
// not) or as 64 hex digits.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("secret key must be %d bytes as base64 or hex", KeySize)
}

// LoadKeyFile reads the key stored at path.
func LoadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseKey(string(b))
}

// LoadOrCreateKeyFile reads the key at path, or generates a random one there
// (mode 0600) if the file does not exist. The new file appears complete or not
// at all (written aside, synced, then linked into place, and the directory
// synced), so a crash or a second process starting at the same moment never
// sees a partial key; if another process wins the race, its key is used.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	if key, err := LoadKeyFile(path); !errors.Is(err, os.ErrNotExist) {
		return key, err
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".secret.key.*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return LoadKeyFile(path) // another process created it first: use theirs
	} else if err != nil {
		return nil, err
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return nil, err
		}
	}
	return key, nil
}
