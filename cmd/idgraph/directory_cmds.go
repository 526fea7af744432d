package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/idgraph/idgraph/internal/directory"
	"github.com/idgraph/idgraph/internal/tlsca"
)

// runApp manages app registrations: the clients that get tokens from the
// built-in authority.
func runApp(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("app: want create, list or secret")
	}
	f := newDataCommand("app "+args[0], getenv, stderr)
	var tenant, clientID, name, roles, scopes string
	var asEnv, public bool
	var remove string
	f.StringVar(&tenant, "tenant", "", "tenant id; the default tenant when empty")
	switch args[0] {
	case "create":
		f.StringVar(&name, "name", "", "display name (required)")
		f.StringVar(&clientID, "client-id", "", "client id (a GUID); random when empty")
		f.StringVar(&roles, "roles", "", "granted application permissions, comma-separated")
		f.StringVar(&scopes, "scopes", "", "granted delegated permissions, comma-separated (for user tokens)")
		f.BoolVar(&public, "public-client", false, "allow the password grant without the client secret (as SDK username/password credentials send it)")
		f.BoolVar(&asEnv, "env", false, "print shell exports of AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET instead of JSON")
	case "list":
	case "secret":
		f.StringVar(&clientID, "client-id", "", "the app's client id (required)")
		f.StringVar(&remove, "remove", "", "revoke the secret with this key id instead of adding one")
	default:
		return fmt.Errorf("app: unknown subcommand %q", args[0])
	}
	d, err := f.open(ctx, args[1:])
	if err != nil {
		return err
	}
	defer d.store.Close()
	tenant = d.tenantOr(tenant)
	enc := json.NewEncoder(stdout)
	switch args[0] {
	case "create":
		a, secret, err := d.dir.CreateApp(ctx, tenant, directory.AppSpec{ClientID: clientID, DisplayName: name,
			Roles: splitList(roles), Scopes: splitList(scopes), PublicClient: public})
		if err != nil {
			return err
		}
		if asEnv {
			_, err := fmt.Fprintf(stdout, "export AZURE_TENANT_ID=%s AZURE_CLIENT_ID=%s AZURE_CLIENT_SECRET=%s\n", tenant, a.ClientID, secret)
			return err
		}
		return enc.Encode(map[string]any{"tenantId": tenant, "clientId": a.ClientID, "clientSecret": secret,
			"roles": a.Roles, "scopes": a.Scopes})
	case "list":
		apps, err := d.dir.Apps(ctx, tenant)
		if err != nil {
			return err
		}
		for _, a := range apps {
			fmt.Fprintf(stdout, "%s\t%s\troles=%v\tscopes=%v\tpublic=%v\n", a.ClientID, a.DisplayName, a.Roles, a.Scopes, a.PublicClient)
			for _, sec := range a.Secrets {
				fmt.Fprintf(stdout, "\tsecret %s (%s...)\n", sec.KeyID, sec.Hint)
			}
		}
	case "secret":
		if remove != "" {
			if err := d.dir.RemoveAppSecret(ctx, tenant, clientID, remove); err != nil {
				return err
			}
			_, err := fmt.Fprintf(stdout, "removed secret %s of app %s\n", remove, clientID)
			return err
		}
		secret, err := d.dir.AddAppSecret(ctx, tenant, clientID, "")
		if err != nil {
			return err
		}
		return enc.Encode(map[string]any{"tenantId": tenant, "clientId": clientID, "clientSecret": secret})
	}
	return nil
}

// runUser manages users, for delegated (user) tokens.
func runUser(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("user: want create or list")
	}
	f := newDataCommand("user "+args[0], getenv, stderr)
	var tenant, upn, password, roles string
	f.StringVar(&tenant, "tenant", "", "tenant id; the default tenant when empty")
	switch args[0] {
	case "create":
		f.StringVar(&upn, "username", "", "userPrincipalName, e.g. admin@contoso.test (required)")
		f.StringVar(&password, "password", "", "password, at least 8 characters (required)")
		f.StringVar(&roles, "roles", "", "directory role template ids or custom role ids, comma-separated")
	case "list":
	default:
		return fmt.Errorf("user: unknown subcommand %q", args[0])
	}
	d, err := f.open(ctx, args[1:])
	if err != nil {
		return err
	}
	defer d.store.Close()
	tenant = d.tenantOr(tenant)
	switch args[0] {
	case "create":
		u, err := d.dir.CreateUser(ctx, tenant, directory.UserSpec{UserPrincipalName: upn, Password: password, DirectoryRoles: splitList(roles)})
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(map[string]any{"tenantId": tenant, "userId": u.ID,
			"username": u.UserPrincipalName, "roles": u.DirectoryRoles})
	case "list":
		users, err := d.dir.Users(ctx, tenant)
		if err != nil {
			return err
		}
		for _, u := range users {
			fmt.Fprintf(stdout, "%s\t%s\troles=%v\n", u.ID, u.UserPrincipalName, u.DirectoryRoles)
		}
	}
	return nil
}

// runKeys manages the token signing keys.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "list") {
		return errors.New("keys: want rotate or list")
	}
	d, err := newDataCommand("keys "+args[0], getenv, stderr).open(ctx, args[1:])
	if err != nil {
		return err
	}
	defer d.store.Close()
	if args[0] == "rotate" {
		k, err := d.dir.RotateKey(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new signing key %s; older keys keep verifying the tokens they signed\n", k.ID)
		return nil
	}
	if _, err := d.dir.SigningKey(ctx); err != nil { // made on first use
		return err
	}
	ks, err := d.dir.SigningKeys(ctx)
	if err != nil {
		return err
	}
	for i, k := range ks {
		state := ""
		if i == len(ks)-1 {
			state = "\tsigning"
		}
		fmt.Fprintf(stdout, "%s\t%s%s\n", k.ID, k.Created.Format("2006-01-02T15:04:05Z"), state)
	}
	return nil
}

// runCA prints the path of the local CA certificate (creating it if needed),
// for SSL_CERT_FILE, NODE_EXTRA_CA_CERTS or curl --cacert.
func runCA(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newDataCommand("ca", getenv, stderr)
	if err := f.parse(args); err != nil {
		return err
	}
	c := f.cfg
	// An existing CA is only pointed at: re-issuing the server certificate
	// here would drop names that serve was given with --tls-san.
	dir := filepath.Join(c.DataDir, "tls")
	files := tlsca.FilesIn(dir)
	if _, err := os.Stat(files.CA); err != nil {
		if files, err = tlsca.Ensure(dir, nil, nowFunc()); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, files.CA)
	return nil
}
