package directory

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// AppSpec describes an app registration to create.
type AppSpec struct {
	ClientID    string   // a GUID; random when empty
	DisplayName string   //
	Roles       []string // granted application permissions
	Scopes      []string // granted delegated permissions
	Secret      string   // the client secret; random when empty
	// PublicClient allows the password grant without the secret.
	PublicClient bool
}

// CreateApp registers an app in tenant and returns it with its client secret
// in clear, the only time the secret exists outside the caller.
func (d *Directory) CreateApp(ctx context.Context, tenant string, spec AppSpec) (graph.App, string, error) {
	if _, err := d.Tenant(ctx, tenant); err != nil {
		return graph.App{}, "", err
	}
	a := graph.App{ClientID: strings.ToLower(spec.ClientID), ObjectID: uuid.NewString(), DisplayName: spec.DisplayName,
		Roles: slices.Clone(spec.Roles), Scopes: slices.Clone(spec.Scopes), PublicClient: spec.PublicClient}
	if a.ClientID == "" {
		a.ClientID = uuid.NewString()
	}
	secret, s, err := newAppSecret(spec.Secret)
	if err != nil {
		return graph.App{}, "", err
	}
	a.Secrets = []graph.AppSecret{s}
	if err := a.Validate(); err != nil {
		return graph.App{}, "", err
	}
	_, err = store.CreateAs(ctx, d.store, tenant, store.Apps, a.ClientID, a)
	return a, secret, err
}

// AddAppSecret adds a client secret to an app and returns it in clear.
func (d *Directory) AddAppSecret(ctx context.Context, tenant, clientID, value string) (string, error) {
	secret, s, err := newAppSecret(value)
	if err != nil {
		return "", err
	}
	_, err = store.UpdateAs(ctx, d.store, tenant, store.Apps, clientID, func(_ store.Tx, cur store.Versioned[graph.App]) (graph.App, error) {
		a := cur.Value
		a.Secrets = append(slices.Clone(a.Secrets), s)
		return a, nil
	})
	return secret, err
}

// RemoveAppSecret revokes the app's client secret with keyID; an app keeps
// at least one secret.
func (d *Directory) RemoveAppSecret(ctx context.Context, tenant, clientID, keyID string) error {
	_, err := store.UpdateAs(ctx, d.store, tenant, store.Apps, clientID, func(_ store.Tx, cur store.Versioned[graph.App]) (graph.App, error) {
		a := cur.Value
		i := slices.IndexFunc(a.Secrets, func(s graph.AppSecret) bool { return strings.EqualFold(s.KeyID, keyID) })
		if i < 0 {
			return a, graph.Errorf(graph.KindNotFound, "app %s has no secret %s", clientID, keyID)
		}
		if len(a.Secrets) == 1 {
			return a, graph.Errorf(graph.KindInvalid, "an app keeps at least one secret: add a new one before removing %s", keyID)
		}
		a.Secrets = slices.Delete(slices.Clone(a.Secrets), i, i+1)
		return a, nil
	})
	return err
}

// App returns one app registration; KindNotFound if there is none.
func (d *Directory) App(ctx context.Context, tenant, clientID string) (graph.App, error) {
	v, err := store.GetAs[graph.App](ctx, d.store, tenant, store.Apps, clientID)
	return v.Value, err
}

// Apps returns a tenant's app registrations.
func (d *Directory) Apps(ctx context.Context, tenant string) ([]graph.App, error) {
	return listValues[graph.App](ctx, d.store, tenant, store.Apps)
}

// CheckAppSecret reports whether secret is one of the app's client secrets.
func CheckAppSecret(a graph.App, secret string) bool {
	sum := sha256.Sum256([]byte(secret))
	ok := 0
	for _, s := range a.Secrets {
		ok |= subtle.ConstantTimeCompare(sum[:], s.Hash)
	}
	return ok == 1
}

// newAppSecret makes a client secret (random, 40 characters, when value is
// empty) and its stored form.
func newAppSecret(value string) (string, graph.AppSecret, error) {
	if value == "" {
		b := make([]byte, 30)
		if _, err := rand.Read(b); err != nil {
			return "", graph.AppSecret{}, err
		}
		value = base64.RawURLEncoding.EncodeToString(b)
	}
	if len(value) < 16 {
		return "", graph.AppSecret{}, graph.Errorf(graph.KindInvalid, "a client secret must be at least 16 characters")
	}
	sum := sha256.Sum256([]byte(value))
	return value, graph.AppSecret{KeyID: uuid.NewString(), Hint: value[:3], Hash: sum[:]}, nil
}

// UserSpec describes a user to create.
type UserSpec struct {
	UserPrincipalName string
	Password          string
	DirectoryRoles    []string // role template ids or custom role ids
}

// CreateUser adds a user to tenant.
func (d *Directory) CreateUser(ctx context.Context, tenant string, spec UserSpec) (graph.User, error) {
	if _, err := d.Tenant(ctx, tenant); err != nil {
		return graph.User{}, err
	}
	hash, err := hashPassword(spec.Password)
	if err != nil {
		return graph.User{}, err
	}
	u := graph.User{ID: uuid.NewString(), UserPrincipalName: spec.UserPrincipalName, PasswordHash: hash,
		DirectoryRoles: lower(spec.DirectoryRoles)}
	if err := u.Validate(); err != nil {
		return graph.User{}, err
	}
	_, err = store.CreateAs(ctx, d.store, tenant, store.Users, u.UserPrincipalName, u)
	return u, err
}

// User returns a user by userPrincipalName (case-insensitive).
func (d *Directory) User(ctx context.Context, tenant, upn string) (graph.User, error) {
	v, err := store.GetAs[graph.User](ctx, d.store, tenant, store.Users, upn)
	return v.Value, err
}

// Users returns a tenant's users.
func (d *Directory) Users(ctx context.Context, tenant string) ([]graph.User, error) {
	return listValues[graph.User](ctx, d.store, tenant, store.Users)
}

func lower(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToLower(v)
	}
	return out
}

// Password hashes: version byte, iteration count, salt, PBKDF2-SHA-256.
const (
	pwVersion    = 1
	pwIterations = 100_000
	pwSaltLen    = 16
	pwKeyLen     = 32
)

// hashPassword checks the password rule and hashes the password.
func hashPassword(password string) ([]byte, error) {
	if len(password) < 8 {
		return nil, graph.Errorf(graph.KindInvalid, "a password must be at least 8 characters")
	}
	salt := make([]byte, pwSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, pwIterations, pwKeyLen)
	if err != nil {
		return nil, err
	}
	out := []byte{pwVersion}
	out = binary.BigEndian.AppendUint32(out, pwIterations)
	out = append(out, salt...)
	return append(out, key...), nil
}

// DecoyUser returns a user whose password hash no password matches; checking
// against it costs what checking a real user costs. It is made on first use,
// not at start.
var DecoyUser = sync.OnceValue(func() graph.User {
	h, err := hashPassword("\x00decoy-password")
	if err != nil {
		panic(err)
	}
	h[len(h)-1] ^= 0xff // no input derives this key
	return graph.User{PasswordHash: h}
})

// CheckPassword reports whether password matches the user's.
func CheckPassword(u graph.User, password string) bool {
	h := u.PasswordHash
	if len(h) != 1+4+pwSaltLen+pwKeyLen || h[0] != pwVersion {
		return false
	}
	iter := int(binary.BigEndian.Uint32(h[1:5]))
	if iter < 1 || iter > 10_000_000 {
		return false
	}
	key, err := pbkdf2.Key(sha256.New, password, h[5:5+pwSaltLen], iter, pwKeyLen)
	return err == nil && subtle.ConstantTimeCompare(key, h[5+pwSaltLen:]) == 1
}
