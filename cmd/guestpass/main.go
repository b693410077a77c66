// Command guestpass is the one binary: the server (serve), its config
// tools (check-config, gen-secrets, hash-password) and the admin CLI
// (invite, guests, policy) over the tenant's admin API.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: guestpass <command> [flags]

commands:
  serve --config FILE     run the server (config/dev.yaml: memory store, mail to the log)
  check-config FILE       validate a config file and exit
  gen-secrets             print a fresh set of secrets as shell exports
  hash-password [--algo argon2id|bcrypt]
                          print a hash for a directory user's passwordHash; the
                          password is read from the terminal or stdin, never argv
  bench [--store memory|redis|cluster] [--duration 10s] [--concurrency 16] [--json] ...
                          load test: sign-ins, refreshes, discovery, userinfo
                          against a guestpass it starts (or --target URL)
  probe URL               GET URL; exit 0 on a 2xx (container health checks: /readyz)
  version                 print the version

`+adminUsage)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(stderr)
		path := fs.String("config", "config/dev.yaml", "config file")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		if err := serve(ctx, *path, stderr); err != nil {
			fmt.Fprintln(stderr, "guestpass:", err)
			return 1
		}
		return 0
	case "check-config":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: guestpass check-config FILE")
			return 2
		}
		return checkConfig(args[1], stdout, stderr)
	case "gen-secrets":
		return genSecrets(stdout, stderr)
	case "hash-password":
		return hashPassword(args[1:], os.Stdin, stdout, stderr)
	case "probe":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: guestpass probe URL")
			return 2
		}
		return probe(ctx, args[1], stderr)
	case "invite", "guests", "policy":
		return runAdmin(ctx, args, stdout, stderr)
	case "bench":
		return bench(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "guestpass", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "guestpass: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}
