package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idgraph/idgraph/internal/store/postgres/pgtest"
)

// TestPostgresSecretKeyAcrossReplicas checks how replicas on one PostgreSQL
// database come by their secret key: the first one on an empty database may
// make one, a later one without it is refused (and makes none), one with
// another key is refused, and one with the first one's key file starts.
// The store URL's password never shows in the output.
func TestPostgresSecretKeyAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	// A password the trust-authenticated test server ignores: it must not
	// be printed anywhere.
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "pw-s3cr3t")
	dsn = u.String()

	first, second := t.TempDir(), t.TempDir()
	out, errOut, err := runCmd(t, nil, "tenant", "list", "--store", dsn, "--data-dir", first)
	if err != nil {
		t.Fatalf("first replica on an empty database: %v\n%s", err, errOut)
	}
	if _, err := os.Stat(filepath.Join(first, "secret.key")); err != nil {
		t.Fatalf("the first replica made no secret.key: %v", err)
	}
	defaultTenant := strings.Fields(out)

	// No key: refused, and no key file is made.
	_, _, err = runCmd(t, nil, "tenant", "list", "--store", dsn, "--data-dir", second)
	if err == nil || !strings.Contains(err.Error(), "holds data sealed with a secret key") {
		t.Errorf("a replica without the key: err = %v, want a refusal saying the data is sealed", err)
	}
	if _, err := os.Stat(filepath.Join(second, "secret.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a replica without the key made one (%v): it would seal with another key", err)
	}

	// Another key: refused by the fingerprint the database keeps.
	other := make([]byte, 32)
	if _, err := rand.Read(other); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCmd(t, map[string]string{"IDGRAPH_SECRET_KEY": base64.StdEncoding.EncodeToString(other)},
		"tenant", "list", "--store", dsn, "--data-dir", second)
	if err == nil || !strings.Contains(err.Error(), "fingerprint") {
		t.Errorf("a replica with another key: err = %v, want a refusal naming the fingerprint", err)
	}
	if err != nil && strings.Contains(err.Error(), "pw-s3cr3t") {
		t.Errorf("the refusal shows the store password: %v", err)
	}

	// The first replica's key, through the environment's IDGRAPH_STORE.
	key, err := os.ReadFile(filepath.Join(first, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(second, "secret.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"IDGRAPH_STORE": dsn}
	out, errOut, err = runCmd(t, env, "tenant", "list", "--data-dir", second)
	if err != nil {
		t.Fatalf("a replica with the first one's key: %v\n%s", err, errOut)
	}
	if got := strings.Fields(out); len(got) == 0 || len(defaultTenant) == 0 || got[0] != defaultTenant[0] {
		t.Errorf("the replicas list different tenants: %q and %q", out, strings.Join(defaultTenant, " "))
	}

	// A server on the database says which store it uses, without the
	// password, and serves.
	srv := startServe(t, []string{"--addr", "127.0.0.1:0", "--data-dir", second, "--plain-http"}, env)
	tok := mintToken(t, env, "--data-dir", second, "--issuer", srv.base, "--roles", "IdentityProvider.Read.All")
	if r := call(t, "GET", srv.base+"/v1.0/identity/identityProviders", tok, ""); r.status != http.StatusOK {
		t.Errorf("GET identityProviders: %d %s", r.status, r.body)
	}
	if err := srv.stop(t); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	printed := srv.stdout.String() + srv.stderr.String()
	if !strings.Contains(srv.stdout.String(), "store:") || !strings.Contains(srv.stdout.String(), u.Host) {
		t.Errorf("serve did not print the store it uses:\n%s", srv.stdout)
	}
	if strings.Contains(printed, "pw-s3cr3t") {
		t.Errorf("serve printed the store password:\n%s", printed)
	}
}

// TestStoreSettingNeverFallsBack checks that a store setting that is not a
// postgres:// URL is refused by every command, without touching the data
// directory (no embedded database or key made there) and without showing
// the setting, which may hold a password.
func TestStoreSettingNeverFallsBack(t *testing.T) {
	for _, store := range []string{"host=127.0.0.1 user=postgres password=pw-s3cr3t dbname=test", "postgres:u:pw-s3cr3t@db/x", "mysql://u:pw-s3cr3t@db/x"} {
		dir := t.TempDir()
		for _, args := range [][]string{{"tenant", "list"}, {"keys", "rotate"}, {"token", "--roles", "IdentityProvider.Read.All"}} {
			_, errOut, err := runCmd(t, nil, append(args, "--store", store, "--data-dir", dir)...)
			if err == nil || !strings.Contains(err.Error(), "postgres:// URL") {
				t.Errorf("%s with --store %q: err = %v, want a refusal", args[0], store, err)
			}
			if err != nil && strings.Contains(err.Error()+errOut, "pw-s3cr3t") {
				t.Errorf("%s shows the store password: %v %s", args[0], err, errOut)
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("the data directory holds %d entries after refused commands, want none", len(entries))
		}
	}
}
