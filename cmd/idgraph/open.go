package main

import (
	"context"
	"errors"
	"fmt"
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
