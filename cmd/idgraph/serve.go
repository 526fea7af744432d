package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/idgraph/idgraph/internal/auth"
	"github.com/idgraph/idgraph/internal/authority"
	"github.com/idgraph/idgraph/internal/config"
	"github.com/idgraph/idgraph/internal/directory"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/httpapi"
	"github.com/idgraph/idgraph/internal/logbuf"
	"github.com/idgraph/idgraph/internal/logjson"
	"github.com/idgraph/idgraph/internal/tlsca"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := config.Default()
	f := newFlagSet("serve", getenv, stderr)
	commonFlags(f, &c)
	f.str(&c.Addr, "addr", c.Addr, "listen address; port 0 picks a free port")
	f.str(&c.Profile, "profile", c.Profile, "compatibility profile: classic or current")
	f.str(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	f.str(&c.Cloud, "cloud", c.Cloud, "national cloud to stand in for: global, usgov, usgovdod or china")
	f.boolean(&c.SunsetDeprecated, "sunset-deprecated-api", "answer the deprecated /identityProviders API as removed, to test a migration")
	f.boolean(&c.PlainHTTP, "plain-http", "serve plain HTTP instead of HTTPS (the official SDKs need HTTPS)")
	f.str(&c.TLSCert, "tls-cert", "", "server certificate (PEM); default: one signed by the local CA in the data directory")
	f.str(&c.TLSKey, "tls-key", "", "server certificate key (PEM)")
	f.str(&c.TLSSANs, "tls-san", "", "extra names for the generated certificate, comma-separated")
	f.str(&c.Seed, "seed", "", "JSON file of tenants, apps, users and trusted issuers to apply at start")
	if err := f.parse(args); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	tuneGC(getenv)
	var level slog.Level
	level.UnmarshalText([]byte(c.LogLevel))
	// One log line per request: batched, so each costs no system call of
	// its own (a crash loses at most the last interval's lines).
	logOut := logbuf.New(stderr, 50*time.Millisecond)
	defer logOut.Close()
	log := slog.New(logjson.New(logOut, &slog.HandlerOptions{Level: level}))

	d, err := openData(ctx, c)
	if err != nil {
		return err
	}
	defer d.store.Close()
	profile, _ := graph.ParseProfile(c.Profile)
	cloud, _ := graph.ParseCloud(c.Cloud)
	verifier := &auth.Verifier{Keys: d.dir.PublicKey}
	if c.Seed != "" {
		seed, err := directory.LoadSeed(c.Seed)
		if err != nil {
			return err
		}
		if err := d.dir.ApplySeed(ctx, seed); err != nil {
			return err
		}
		for _, ti := range seed.TrustedIssuers {
			ext := &auth.ExternalIssuer{Issuer: ti.Issuer, JWKSURL: ti.JWKSURI, JWKSFile: ti.JWKSFile,
				Audiences: ti.Audiences, Tenants: ti.Tenants}
			if err := ext.Refresh(ctx); err != nil {
				log.Warn("trusted issuer keys not loaded yet; a token of that issuer retries every 10 s", "issuer", ti.Issuer, "error", err.Error())
			}
			verifier.Issuers = append(verifier.Issuers, ext)
		}
		log.Info("seed applied", "file", c.Seed, "tenants", len(seed.Tenants), "trusted_issuers", len(seed.TrustedIssuers))
	}

	var tlsConfig *tls.Config
	var caFile string
	var caPEM []byte
	switch {
	case c.PlainHTTP:
	case c.TLSCert != "":
		if tlsConfig, err = tlsca.Config(c.TLSCert, c.TLSKey); err != nil {
			return fmt.Errorf("tls: %w", err)
		}
	default:
		files, err := tlsca.Ensure(filepath.Join(c.DataDir, "tls"), splitList(c.TLSSANs), time.Now())
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		if tlsConfig, err = tlsca.Config(files.Cert, files.Key); err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		if caPEM, err = tlsca.PEM(files.CA); err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		caFile = files.CA
	}

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	api := httpapi.New(httpapi.Options{Store: d.store, Directory: d.dir, Keys: d.keys, Profile: profile,
		Cloud: cloud, GraphRoot: c.GraphRoot, SunsetDeprecated: c.SunsetDeprecated, Logger: log, Verifier: verifier})
	issuer := &authority.Handler{Dir: d.dir, Log: log, NotFound: api}
	var served atomic.Int64
	root := httpapi.Root(api, issuer, caPEM)
	go trimWhenIdle(ctx, &served, time.Second)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			served.Add(1)
			root.ServeHTTP(w, r)
		}),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "https"
	if tlsConfig == nil {
		scheme = "http"
		if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			log.Warn("plain HTTP on a non-loopback address: tokens, client secrets and passwords cross the network in clear", "addr", ln.Addr().String())
		}
	}
	base := scheme + "://" + displayAddr(ln.Addr().(*net.TCPAddr))
	if d.backend == "sqlite" {
		log.Info("starting", "config", c.String(), "store", "sqlite", "journal_mode", "wal", "synchronous", "FULL")
	} else {
		log.Info("starting", "config", c.String(), "store", d.backend, "synchronous_commit", "on")
	}
	fmt.Fprintf(stdout, "idgraph serving Microsoft Graph at %s (profile %s, cloud %s)\n", base, profile, cloud)
	if c.SunsetDeprecated {
		fmt.Fprintln(stdout, "  the deprecated /identityProviders API answers as removed (--sunset-deprecated-api)")
	}
	fmt.Fprintf(stdout, "  data directory: %s\n", c.DataDir)
	if d.backend != "sqlite" {
		fmt.Fprintf(stdout, "  store:          %s\n", config.RedactStore(c.Store))
	}
	fmt.Fprintf(stdout, "  default tenant: %s (kind %s)\n", d.tenant.ID, d.tenant.Kind)
	fmt.Fprintf(stdout, "  authority:      %s/%s (token endpoint %s/%s/oauth2/v2.0/token)\n", base, d.tenant.ID, base, d.tenant.ID)
	if caFile != "" {
		fmt.Fprintf(stdout, "  CA certificate: %s\n", caFile)
		if fp, err := tlsca.Fingerprint(caFile); err == nil {
			fmt.Fprintf(stdout, "  CA SHA-256:     %s\n", fp)
		}
		fmt.Fprintf(stdout, "  CA download:    %s/_idgraph/ca.pem\n", base)
		fmt.Fprintf(stdout, "  trust it:       Go: SSL_CERT_FILE=%q  Node: NODE_EXTRA_CA_CERTS=%q  curl: --cacert %q\n", caFile, caFile, caFile)
	}
	fmt.Fprintf(stdout, "  register an app: go run ./cmd/idgraph app create --name my-app --roles IdentityProvider.ReadWrite.All,APIConnectors.ReadWrite.All\n")
	fmt.Fprintf(stdout, "  or mint a token: go run ./cmd/idgraph token --issuer %s --roles IdentityProvider.ReadWrite.All,APIConnectors.ReadWrite.All\n", base)

	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(stdout, "idgraph stopped")
	return nil
}

// displayAddr is a URL host:port clients on this machine can use: a wildcard
// listen address is shown as loopback.
func displayAddr(a *net.TCPAddr) string {
	ip := a.IP
	switch {
	case ip == nil || ip.Equal(net.IPv4zero):
		ip = net.IPv4(127, 0, 0, 1)
	case ip.Equal(net.IPv6unspecified):
		ip = net.IPv4(127, 0, 0, 1) // Go listens dual-stack on "::"
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
}

// tuneGC trades memory for CPU unless the environment chose: the live
// heap is a few MiB, and almost all allocation is per-request garbage, so
// the default (a collection each time the heap doubles) spends a quarter
// of a busy server's CPU collecting. A soft limit keeps the larger
// target bounded.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(64 << 20)
	}
}

// trimWhenIdle returns the memory a burst of requests left behind to the
// operating system once the server has been idle for a tick (with the
// collector tuned for throughput, a heap grown under load would otherwise
// stay resident while nothing happens).
func trimWhenIdle(ctx context.Context, served *atomic.Int64, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	last, trimmed := served.Load(), true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := served.Load()
		switch {
		case n != last:
			last, trimmed = n, false
		case !trimmed:
			debug.FreeOSMemory()
			trimmed = true
		}
	}
}
