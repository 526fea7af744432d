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
	"github.com/idgraph/idgraph/internal/store/sqlite"
)

// data is an opened data directory.
type data struct {
	store   *sqlite.Store
	keys    *secret.Keyring
	dir     *directory.Directory
	tenant  graph.Tenant // the default tenant
	keyFile string       // "" when the key came from configuration
}

// openData opens the data directory, creating and bootstrapping it on first
// use: secret key, database, signing key, default tenant.
func openData(ctx context.Context, c config.Config) (*data, error) {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	d := &data{}
	dbPath := filepath.Join(c.DataDir, "idgraph.db")
	var key []byte
	var err error
	if c.SecretKey != "" {
		key, err = secret.ParseKey(c.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("IDGRAPH_SECRET_KEY: %w", err)
		}
	} else {
		d.keyFile = filepath.Join(c.DataDir, "secret.key")
		// A key is generated only with a new database: a missing key file
		// beside existing data means the key is lost, not that one is due.
		if _, statErr := os.Stat(dbPath); statErr == nil {
			key, err = secret.LoadKeyFile(d.keyFile)
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("secret key: %s is missing but the data directory holds a database; "+
					"restore the key file or set IDGRAPH_SECRET_KEY", d.keyFile)
			}
		} else {
			key, err = secret.LoadOrCreateKeyFile(d.keyFile)
		}
		if err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
	}
	if d.keys, err = secret.New(key); err != nil {
		return nil, err
	}
	if d.store, err = sqlite.Open(ctx, dbPath); err != nil {
		return nil, err
	}
	d.dir = directory.New(d.store, d.keys, nil)
	if d.tenant, err = d.dir.Bootstrap(ctx); err != nil {
		d.store.Close()
		return nil, err
	}
	return d, nil
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
