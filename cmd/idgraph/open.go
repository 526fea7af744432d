package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/idgraph/idgraph/internal/config"
	"github.com/idgraph/idgraph/internal/directory"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/secret"
	"github.com/idgraph/idgraph/internal/store"
	"github.com/idgraph/idgraph/internal/store/postgres"
	"github.com/idgraph/idgraph/internal/store/sqlite"
)

// data is an opened data directory and store.
type data struct {
	store   store.Store
	backend string // "sqlite" or "postgres"
	keys    *secret.Keyring
	dir     *directory.Directory
	tenant  graph.Tenant // the default tenant
	keyFile string       // "" when the key came from configuration
}

// openData opens the data directory and the store (the embedded SQLite
// database in the directory, or the PostgreSQL database c.Store names),
// creating and bootstrapping them on first use: secret key, schema,
// default tenant.
func openData(ctx context.Context, c config.Config) (*data, error) {
	if c.Store != "" && !config.IsPostgres(c.Store) {
		// Never fall back to the embedded store on a mistyped setting: the
		// command would act on data no replica sees.
		return nil, fmt.Errorf("store %s: want empty (the embedded store) or a postgres:// URL", config.RedactStore(c.Store))
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	d := &data{}
	var err error
	if config.IsPostgres(c.Store) {
		d.backend = "postgres"
		pg, err := postgres.Open(ctx, c.Store)
		if err != nil {
			return nil, err
		}
		d.store = pg
		// Every replica must seal with the same key: one that finds the
		// database sealed and has no key is told so instead of making one.
		err = d.loadKey(c, func() (bool, error) { return directory.Sealed(ctx, pg) },
			"the database "+config.RedactStore(c.Store)+" holds data sealed with a secret key; give this replica the key "+
				"the others use (IDGRAPH_SECRET_KEY, or their secret.key in its data directory)")
		if err != nil {
			pg.Close()
			return nil, err
		}
	} else {
		d.backend = "sqlite"
		dbPath := filepath.Join(c.DataDir, "idgraph.db")
		// A key is generated only with a new database: a missing key file
		// beside existing data means the key is lost, not that one is due.
		_, statErr := os.Stat(dbPath)
		err = d.loadKey(c, func() (bool, error) { return statErr == nil, nil },
			"the data directory holds a database; restore the key file or set IDGRAPH_SECRET_KEY")
		if err != nil {
			return nil, err
		}
		if d.store, err = sqlite.Open(ctx, dbPath); err != nil {
			return nil, err
		}
	}
	d.dir = directory.New(d.store, d.keys, nil)
	if d.tenant, err = d.dir.Bootstrap(ctx); err != nil {
		d.store.Close()
		return nil, err
	}
	return d, nil
}

// loadKey sets d.keys from IDGRAPH_SECRET_KEY or the data directory's key
// file, which it creates only when sealed reports no sealed data yet;
// missing explains what to do when the file is missing but data is sealed.
func (d *data) loadKey(c config.Config, sealed func() (bool, error), missing string) error {
	var key []byte
	var err error
	if c.SecretKey != "" {
		if key, err = secret.ParseKey(c.SecretKey); err != nil {
			return fmt.Errorf("IDGRAPH_SECRET_KEY: %w", err)
		}
	} else {
		d.keyFile = filepath.Join(c.DataDir, "secret.key")
		has, err := sealed()
		if err != nil {
			return err
		}
		if has {
			key, err = secret.LoadKeyFile(d.keyFile)
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("secret key: %s is missing but %s", d.keyFile, missing)
			}
		} else {
			key, err = secret.LoadOrCreateKeyFile(d.keyFile)
		}
		if err != nil {
			return fmt.Errorf("secret key: %w", err)
		}
	}
	d.keys, err = secret.New(key)
	return err
}

// dataCommand is a subcommand that works on the data directory: its flags
// include --data-dir, and open parses them and opens the data.
type dataCommand struct {
	*flagSet
	cfg config.Config
}

func newDataCommand(name string, getenv func(string) string, stderr io.Writer) *dataCommand {
	dc := &dataCommand{flagSet: newFlagSet(name, getenv, stderr), cfg: config.Default()}
	commonFlags(dc.flagSet, &dc.cfg)
	return dc
}

// open parses args and opens the data directory; the caller closes d.store.
func (dc *dataCommand) open(ctx context.Context, args []string) (*data, error) {
	if err := dc.parse(args); err != nil {
		return nil, err
	}
	return openData(ctx, dc.cfg)
}

// tenantOr returns id, or the default tenant when id is empty.
func (d *data) tenantOr(id string) string {
	if id == "" {
		return d.tenant.ID
	}
	return id
}
