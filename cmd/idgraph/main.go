// Command idgraph serves the Microsoft Graph identity-configuration API (API
// connectors and identity providers) on a durable embedded store.
//
//	idgraph serve                 start the server (127.0.0.1:9443, default data directory)
//	idgraph token --roles ...     mint a signed access token for scripts and curl
//	idgraph tenant create|list    manage tenants
//	idgraph version               print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

var version = "dev"

// nowFunc is the clock of the commands.
var nowFunc = time.Now

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "idgraph:", err)
		}
		os.Exit(1)
	}
}

const usage = `idgraph serves the Microsoft Graph identity-configuration API.

Usage:
  idgraph serve   [flags]   start the server
  idgraph token   [flags]   mint an access token (app-only with --roles, delegated with --scp)
  idgraph tenant  create|list|role [flags]
  idgraph app     create|list|secret [flags]   app registrations for the token endpoint
  idgraph user    create|list [flags]          users for delegated tokens
  idgraph keys    rotate|list [flags]          token signing keys
  idgraph ca      [flags]                      print the local CA certificate's path
  idgraph version

Run 'idgraph <command> -h' for a command's flags. Server configuration flags
(serve's flags, --data-dir and token's --issuer) fall back to an IDGRAPH_*
environment variable (e.g. --data-dir: IDGRAPH_DATA_DIR); the secret key is
read from IDGRAPH_SECRET_KEY only. The claims of a token and the properties of
a tenant are always given as flags.
`

// run is the program: tests call it with their own arguments, environment
// and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		return runToken(ctx, args[1:], getenv, stdout, stderr)
	case "tenant":
		return runTenant(ctx, args[1:], getenv, stdout, stderr)
	case "app":
		return runApp(ctx, args[1:], getenv, stdout, stderr)
	case "user":
		return runUser(ctx, args[1:], getenv, stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], getenv, stdout, stderr)
	case "ca":
		return runCA(ctx, args[1:], getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "idgraph", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
