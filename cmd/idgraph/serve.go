package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/idgraph/idgraph/internal/config"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/httpapi"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := config.Default()
	f := newFlagSet("serve", getenv, stderr)
	commonFlags(f, &c)
	f.str(&c.Addr, "addr", c.Addr, "listen address; port 0 picks a free port")
	f.str(&c.Profile, "profile", c.Profile, "compatibility profile: classic or current")
	f.str(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	if err := f.parse(args); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	var level slog.Level
	level.UnmarshalText([]byte(c.LogLevel))
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	d, err := openData(ctx, c)
	if err != nil {
		return err
	}
	defer d.store.Close()
	profile, _ := graph.ParseProfile(c.Profile)

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	api := httpapi.New(httpapi.Options{Store: d.store, Directory: d.dir, Keys: d.keys, Profile: profile,
		GraphRoot: c.GraphRoot, Logger: log})
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	base := "http://" + displayAddr(ln.Addr().(*net.TCPAddr))
	log.Info("starting", "config", c.String(), "journal_mode", "wal", "synchronous", "FULL")
	fmt.Fprintf(stdout, "idgraph serving Microsoft Graph at %s (profile %s)\n", base, profile)
	fmt.Fprintf(stdout, "  data directory: %s\n", c.DataDir)
	fmt.Fprintf(stdout, "  default tenant: %s (kind %s)\n", d.tenant.ID, d.tenant.Kind)
	fmt.Fprintf(stdout, "  get a token:    TOKEN=$(go run ./cmd/idgraph token --data-dir %q --issuer %s --roles IdentityProvider.ReadWrite.All,APIConnectors.ReadWrite.All)\n", c.DataDir, base)
	fmt.Fprintf(stdout, "  then:           curl -H \"Authorization: Bearer $TOKEN\" %s/v1.0/identityProviders\n", base)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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
