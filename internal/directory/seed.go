package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// Seed is the declarative directory data a server applies at start: the
// tenants it must have, their custom roles, app registrations and users, and
// the external token issuers it trusts. Applying a seed again leaves the
// same directory.
type Seed struct {
	Tenants        []SeedTenant        `json:"tenants"`
	TrustedIssuers []SeedTrustedIssuer `json:"trustedIssuers"`
}

// SeedTenant is a tenant of a seed. Without an id it is the default tenant.
type SeedTenant struct {
	ID          string             `json:"id"`
	DisplayName string             `json:"displayName"`
	Kind        graph.TenantKind   `json:"kind"`
	Profile     graph.Profile      `json:"profile"`
	CustomRoles []graph.CustomRole `json:"customRoles"`
	Apps        []SeedApp          `json:"apps"`
	Users       []SeedUser         `json:"users"`
}

// SeedApp is an app registration of a seed. Its secret is written in clear
// in the seed file, as a CI secret would be; only its hash is stored.
type SeedApp struct {
	ClientID     string   `json:"clientId"`
	DisplayName  string   `json:"displayName"`
	ClientSecret string   `json:"clientSecret"`
	Roles        []string `json:"roles"`
	Scopes       []string `json:"scopes"`
	PublicClient bool     `json:"publicClient"`
}

// SeedUser is a user of a seed.
type SeedUser struct {
	UserPrincipalName string   `json:"userPrincipalName"`
	Password          string   `json:"password"`
	Roles             []string `json:"roles"`
}

// SeedTrustedIssuer is an external token issuer the server trusts.
type SeedTrustedIssuer struct {
	Issuer    string   `json:"issuer"`
	JWKSURI   string   `json:"jwksUri"`
	JWKSFile  string   `json:"jwksFile"`
	Audiences []string `json:"audiences"`
	// Tenants lists the tenants an issuer without "{tenantid}" may issue
	// tokens for; such an issuer needs it.
	Tenants []string `json:"tenants"`
}

// LoadSeed reads a seed file. Unknown fields are errors, so a typo is not
// silently ignored.
func LoadSeed(path string) (Seed, error) {
	var s Seed
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("seed %s: %w", path, err)
	}
	for i, ti := range s.TrustedIssuers {
		if ti.Issuer == "" || (ti.JWKSURI == "") == (ti.JWKSFile == "") {
			return s, fmt.Errorf("seed %s: trustedIssuers[%d] needs an issuer and exactly one of jwksUri or jwksFile", path, i)
		}
		if ti.JWKSURI != "" && !secureKeyURL(ti.JWKSURI) {
			return s, fmt.Errorf("seed %s: trustedIssuers[%d].jwksUri must be https (or http on a loopback address)", path, i)
		}
		if !strings.Contains(ti.Issuer, "{tenantid}") && len(ti.Tenants) == 0 {
			return s, fmt.Errorf("seed %s: trustedIssuers[%d] has no {tenantid} in its issuer, so it needs the tenants it may issue tokens for", path, i)
		}
	}
	return s, nil
}

// secureKeyURL allows https, and plain http only to this machine (where
// nobody can change the keys on the way).
func secureKeyURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		ip := net.ParseIP(h)
		return h == "localhost" || (ip != nil && ip.IsLoopback())
	}
	return false
}

// ApplySeed makes the directory hold what s declares: missing tenants, apps
// and users are created; existing ones take the declared kind, profile,
// roles, scopes and names; a declared secret or password that does not match
// is set.
func (d *Directory) ApplySeed(ctx context.Context, s Seed) error {
	for i, st := range s.Tenants {
		id, err := d.applySeedTenant(ctx, st)
		if err != nil {
			return fmt.Errorf("seed tenants[%d]: %w", i, err)
		}
		for j, a := range st.Apps {
			if err := d.applySeedApp(ctx, id, a); err != nil {
				return fmt.Errorf("seed tenants[%d].apps[%d]: %w", i, j, err)
			}
		}
		for j, u := range st.Users {
			if err := d.applySeedUser(ctx, id, u); err != nil {
				return fmt.Errorf("seed tenants[%d].users[%d]: %w", i, j, err)
			}
		}
	}
	return nil
}

func (d *Directory) applySeedTenant(ctx context.Context, st SeedTenant) (string, error) {
	id := strings.ToLower(st.ID)
	if id == "" {
		def, err := d.DefaultTenant(ctx)
		if err != nil {
			return "", err
		}
		id = def.ID
	}
	apply := func(t *graph.Tenant) {
		if st.DisplayName != "" {
			t.DisplayName = st.DisplayName
		}
		if st.Kind != "" {
			t.Kind = st.Kind
		}
		t.Profile = st.Profile
		if st.CustomRoles != nil {
			t.CustomRoles = st.CustomRoles
		}
	}
	_, err := d.Tenant(ctx, id)
	if graph.KindOf(err) == graph.KindNotFound {
		t := graph.Tenant{ID: id, DisplayName: "Seeded tenant", Kind: graph.TenantB2C}
		apply(&t)
		_, err = d.CreateTenant(ctx, t)
		if graph.KindOf(err) == graph.KindConflict {
			// Another replica applying the same seed created it first.
			return d.applySeedTenant(ctx, st)
		}
		return id, err
	}
	if err != nil {
		return "", err
	}
	_, err = d.UpdateTenant(ctx, id, func(t *graph.Tenant) error { apply(t); return nil })
	return id, err
}

func (d *Directory) applySeedApp(ctx context.Context, tenant string, sa SeedApp) error {
	if sa.ClientID == "" || sa.ClientSecret == "" {
		return fmt.Errorf("an app needs a clientId and a clientSecret")
	}
	_, err := d.App(ctx, tenant, sa.ClientID)
	if graph.KindOf(err) == graph.KindNotFound {
		_, _, err = d.CreateApp(ctx, tenant, AppSpec{ClientID: sa.ClientID, DisplayName: sa.DisplayName,
			Roles: sa.Roles, Scopes: sa.Scopes, Secret: sa.ClientSecret, PublicClient: sa.PublicClient})
		if graph.KindOf(err) == graph.KindConflict {
			return d.applySeedApp(ctx, tenant, sa) // created meanwhile by another replica
		}
		return err
	}
	if err != nil {
		return err
	}
	_, newSecret, err := newAppSecret(sa.ClientSecret)
	if err != nil {
		return err
	}
	_, err = store.UpdateAs(ctx, d.store, tenant, store.Apps, sa.ClientID, func(_ store.Tx, cur store.Versioned[graph.App]) (graph.App, error) {
		a := cur.Value
		if sa.DisplayName != "" {
			a.DisplayName = sa.DisplayName
		}
		a.Roles, a.Scopes, a.PublicClient = slices.Clone(sa.Roles), slices.Clone(sa.Scopes), sa.PublicClient
		if !CheckAppSecret(a, sa.ClientSecret) {
			a.Secrets = append(slices.Clone(a.Secrets), newSecret)
		}
		return a, a.Validate()
	})
	return err
}

func (d *Directory) applySeedUser(ctx context.Context, tenant string, su SeedUser) error {
	u, err := d.User(ctx, tenant, su.UserPrincipalName)
	if graph.KindOf(err) == graph.KindNotFound {
		_, err = d.CreateUser(ctx, tenant, UserSpec{UserPrincipalName: su.UserPrincipalName, Password: su.Password, DirectoryRoles: su.Roles})
		if graph.KindOf(err) == graph.KindConflict {
			return d.applySeedUser(ctx, tenant, su) // created meanwhile by another replica
		}
		return err
	}
	if err != nil {
		return err
	}
	var hash []byte
	if !CheckPassword(u, su.Password) {
		if hash, err = hashPassword(su.Password); err != nil {
			return err
		}
	}
	_, err = store.UpdateAs(ctx, d.store, tenant, store.Users, su.UserPrincipalName, func(_ store.Tx, cur store.Versioned[graph.User]) (graph.User, error) {
		next := cur.Value
		next.DirectoryRoles = lower(su.Roles)
		if hash != nil {
			next.PasswordHash = hash
		}
		return next, next.Validate()
	})
	return err
}
