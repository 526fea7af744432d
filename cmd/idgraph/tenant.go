package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"
	"github.com/idgraph/idgraph/internal/graph"
)

func runTenant(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("tenant: want create, list or role")
	}
	f := newDataCommand("tenant "+args[0], getenv, stderr)
	var t graph.Tenant
	var kind, profile, tenantID, roleID, roleName, perms string
	switch args[0] {
	case "create":
		f.StringVar(&t.ID, "id", "", "tenant id (a GUID); random when empty")
		f.StringVar(&t.DisplayName, "name", "", "display name")
		f.StringVar(&kind, "kind", "b2c", "tenant kind: b2c, workforce or external")
		f.StringVar(&profile, "profile", "", "compatibility profile override: classic or current")
	case "list":
	case "role":
		f.StringVar(&tenantID, "tenant", "", "tenant id; the default tenant when empty")
		f.StringVar(&roleID, "id", "", "custom role id (a GUID, as it appears in wids); random when empty")
		f.StringVar(&roleName, "name", "Custom role", "display name")
		f.StringVar(&perms, "permissions", "", "resource actions, comma-separated, e.g. microsoft.directory/identityProviders/allProperties/allTasks")
	default:
		return fmt.Errorf("tenant: unknown subcommand %q", args[0])
	}
	d, err := f.open(ctx, args[1:])
	if err != nil {
		return err
	}
	defer d.store.Close()
	switch args[0] {
	case "create":
		if t.ID == "" {
			t.ID = uuid.NewString()
		}
		if t.Kind, err = graph.ParseTenantKind(kind); err != nil {
			return err
		}
		if profile != "" {
			if t.Profile, err = graph.ParseProfile(profile); err != nil {
				return err
			}
		}
		if t, err = d.dir.CreateTenant(ctx, t); err != nil {
			return err
		}
		fmt.Fprintln(stdout, t.ID)
	case "list":
		ts, err := d.dir.Tenants(ctx)
		if err != nil {
			return err
		}
		for _, t := range ts {
			def := ""
			if t.ID == d.tenant.ID {
				def = " (default)"
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s%s\n", t.ID, t.Kind, t.DisplayName, def)
		}
	case "role":
		tenantID = d.tenantOr(tenantID)
		if roleID == "" {
			roleID = uuid.NewString()
		}
		role := graph.CustomRole{ID: strings.ToLower(roleID), DisplayName: roleName, Permissions: splitList(perms)}
		if _, err := d.dir.UpdateTenant(ctx, tenantID, func(t *graph.Tenant) error {
			t.CustomRoles = append(t.CustomRoles, role)
			return nil
		}); err != nil {
			return err
		}
		fmt.Fprintln(stdout, role.ID)
	}
	return nil
}
