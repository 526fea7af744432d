package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/idgraph/idgraph/internal/config"
	"github.com/idgraph/idgraph/internal/directory"
	"github.com/idgraph/idgraph/internal/graph"
)

func runToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newDataCommand("token", getenv, stderr)
	var o directory.MintOptions
	var roles, scp, wids string
	f.StringVar(&o.Tenant, "tenant", "", "tenant id (tid); the default tenant when empty")
	f.StringVar(&roles, "roles", "", "application permissions, comma-separated: an app-only token")
	f.StringVar(&scp, "scp", "", "delegated permissions, comma- or space-separated: a user token")
	f.StringVar(&wids, "wids", "", "the user's directory role template ids (or custom role ids), comma-separated")
	f.StringVar(&o.ObjectID, "oid", "", "object id of the caller; random when empty")
	f.StringVar(&o.AppID, "appid", "", "client application id")
	f.StringVar(&o.Audience, "aud", "https://graph.microsoft.com", "audience")
	f.str(&o.Issuer, "issuer", "https://"+config.DefaultAddr, "authority origin the token names as issuer")
	f.duration(&o.TTL, "ttl", time.Hour, "token lifetime")
	if err := f.parse(args); err != nil {
		return err
	}
	o.Roles, o.Scopes, o.WIDs = splitList(roles), splitList(scp), splitList(wids)
	if len(o.Roles) > 0 && len(o.Scopes) > 0 {
		return fmt.Errorf("token: give --roles (an app-only token) or --scp (a user token), not both")
	}
	if len(o.WIDs) > 0 && len(o.Scopes) == 0 {
		return fmt.Errorf("token: --wids are a user's directory roles and need --scp")
	}
	d, err := openData(ctx, f.cfg)
	if err != nil {
		return err
	}
	defer d.store.Close()
	o.Tenant = strings.ToLower(d.tenantOr(o.Tenant))
	if o.Tenant != graph.MSATenantID {
		if _, err := d.dir.Tenant(ctx, o.Tenant); err != nil {
			return fmt.Errorf("tenant %s: %w", o.Tenant, err)
		}
	}
	tok, err := d.dir.Mint(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
