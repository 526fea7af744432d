// Package config holds idgraph's server configuration: one Config struct,
// its defaults, and a Validate that reports every problem at once. Flags and
// IDGRAPH_* environment variables are bound to it by the command.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/idgraph/idgraph/internal/graph"
)

// DefaultAddr is where idgraph listens unless told otherwise.
const DefaultAddr = "127.0.0.1:9443"

// Config is the server configuration.
type Config struct {
	Addr    string // listen address; ":0" or "host:0" picks a free port
	DataDir string // where the embedded store, secret key and state live
	// Store is where the data lives: empty for the embedded SQLite store in
	// the data directory, or a postgres:// (postgresql://) URL for
	// PostgreSQL, which several replicas can share.
	Store   string
	Profile string // classic (default) or current: decision D1
	// SecretKey is the base64 key that seals secrets at rest. Empty means the
	// data directory's secret.key (generated on first start). Never logged.
	SecretKey string
	LogLevel  string // debug, info, warn, error
	// Cloud is the national cloud the server stands in for: global (the
	// default), usgov, usgovdod or china (decision D8).
	Cloud string
	// GraphRoot overrides the Graph host named in @odata.context and links;
	// empty means the cloud's.
	GraphRoot string
	// SunsetDeprecated answers the deprecated /identityProviders API as
	// removed (decision D5).
	SunsetDeprecated bool

	// PlainHTTP serves without TLS. HTTPS is the default because the
	// official clients refuse an http authority.
	PlainHTTP bool
	// TLSCert and TLSKey bring your own server certificate; when empty, a
	// local CA and a certificate it signs are kept in the data directory.
	TLSCert, TLSKey string
	// TLSSANs are extra names (hosts or IPs) for the generated certificate.
	TLSSANs string
	// Seed is a JSON file of directory data (tenants, apps, users) and
	// trusted issuers applied at start.
	Seed string
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{Addr: DefaultAddr, DataDir: DefaultDataDir(), Profile: string(graph.ProfileClassic),
		LogLevel: "info", Cloud: string(graph.CloudGlobal)}
}

// DefaultDataDir is the per-user data directory: $XDG_DATA_HOME/idgraph, or
// the platform's usual place.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "idgraph")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "idgraph-data"
	}
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "idgraph")
		}
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "idgraph")
	}
	return filepath.Join(home, ".local", "share", "idgraph")
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: %v", c.Addr, err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data directory is empty"))
	}
	if c.Store != "" && !IsPostgres(c.Store) {
		errs = append(errs, fmt.Errorf("store %s: want empty (the embedded store) or a postgres:// URL", RedactStore(c.Store)))
	}
	if _, err := graph.ParseCloud(c.Cloud); err != nil {
		errs = append(errs, err)
	}
	if _, err := graph.ParseProfile(c.Profile); err != nil {
		errs = append(errs, err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.PlainHTTP && c.TLSCert != "" {
		errs = append(errs, errors.New("--plain-http and --tls-cert exclude each other"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q: want debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// String describes c without its secret key.
func (c Config) String() string {
	key := "data directory file"
	if c.SecretKey != "" {
		key = "from configuration"
	}
	return fmt.Sprintf("addr=%s data=%s store=%s profile=%s secret-key=%s log-level=%s",
		c.Addr, c.DataDir, RedactStore(c.Store), c.Profile, key, c.LogLevel)
}

// IsPostgres reports whether store names a PostgreSQL database.
func IsPostgres(store string) bool {
	u, err := url.Parse(store)
	return err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") && u.Opaque == ""
}

// RedactStore describes a store setting without its credentials: the
// embedded store, or the URL with its user information and password
// parameters removed.
func RedactStore(store string) string {
	if store == "" {
		return "embedded"
	}
	if !IsPostgres(store) {
		// A keyword/value DSN or a mistyped URL may hold a password
		// anywhere: none of it is shown.
		return "(not a postgres:// URL)"
	}
	u, err := url.Parse(store)
	if err != nil {
		return "(not a postgres:// URL)"
	}
	u.User = nil
	q := u.Query()
	for k := range u.Query() {
		switch strings.ToLower(k) {
		case "password", "sslpassword", "user":
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
