package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/guestpass/guestpass/pkg/adminclient"
)

// Exit codes of the admin commands, distinct so that scripts can tell a
// missing guest from a broken setup.
const (
	exitFailed      = 1 // the server refused the request (400, 409, 5xx…)
	exitUsage       = 2 // bad arguments or missing environment
	exitUnreachable = 3 // no answer from GUESTPASS_URL (or a timeout)
	exitRefused     = 4 // the credentials were refused (token endpoint, 401, 403)
	exitNotFound    = 5 // no such guest (404)
)

const adminUsage = `admin commands (credentials from the environment: GUESTPASS_URL, the
tenant's issuer such as http://localhost:8080/demo; GUESTPASS_CLIENT_ID and
GUESTPASS_CLIENT_SECRET, an admin client of that tenant):
  invite EMAIL [--name N] [--redirect URL] [--no-mail] [--json]
  guests list [--source S] [--state PendingAcceptance|Accepted] [--json]
              [--page-size N [--page-token T]]   (default: every page)
  guests get|delete|reset ID [--json]
  policy get|clear [--json]
  policy set --email-otp=on|off [--json]
exit codes: 1 refused by the server, 2 usage or environment, 3 unreachable,
4 credentials refused, 5 no such guest
`

// adminCmd is one admin command's run: parsed flags, a client, and where
// to write.
type adminCmd struct {
	client *adminclient.Client
	id     string // GUESTPASS_CLIENT_ID, for messages
	json   bool
	out    io.Writer
}

// runAdmin runs invite, guests and policy.
func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name := strings.Join(args[:min(2, len(args))], " ")
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, adminUsage) }
	asJSON := fs.Bool("json", false, "print the API's JSON")
	var do action
	var nargs int
	switch args[0] {
	case "invite":
		do, nargs = inviteFlags(fs), 1
		args = args[1:]
	case "guests", "policy":
		if len(args) < 2 {
			fs.Usage()
			return exitUsage
		}
		do, nargs = subcommand(fs, args[0], args[1])
		args = args[2:]
	}
	if do == nil {
		fmt.Fprintf(stderr, "guestpass: unknown command %q\n", name)
		fs.Usage()
		return exitUsage
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != nargs {
		fmt.Fprintf(stderr, "guestpass %s: expected %d argument(s), got %d\n", fs.Name(), nargs, len(pos))
		fs.Usage()
		return exitUsage
	}
	c, code := newAdminCmd(stderr)
	if c == nil {
		return code
	}
	c.json, c.out = *asJSON, stdout
	return c.report(do(c, ctx, pos), stderr)
}

// subcommand picks a guests/policy action and its flags.
func subcommand(fs *flag.FlagSet, group, name string) (action, int) {
	switch group + " " + name {
	case "guests list":
		return listFlags(fs), 0
	case "guests get":
		return (*adminCmd).get, 1
	case "guests delete":
		return (*adminCmd).delete, 1
	case "guests reset":
		return (*adminCmd).reset, 1
	case "policy get":
		return (*adminCmd).policyGet, 0
	case "policy clear":
		return (*adminCmd).policyClear, 0
	case "policy set":
		return policySetFlags(fs), 0
	}
	return nil, 0
}

// action is one command's work, with its positional arguments.
type action func(c *adminCmd, ctx context.Context, args []string) error

// parseInterspersed allows flags after positional arguments
// ("invite a@b.example --no-mail"), which package flag stops at.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// newAdminCmd reads the environment; every missing variable is named.
func newAdminCmd(stderr io.Writer) (*adminCmd, int) {
	vars := map[string]string{}
	var missing []string
	for _, k := range []string{"GUESTPASS_URL", "GUESTPASS_CLIENT_ID", "GUESTPASS_CLIENT_SECRET"} {
		vars[k] = os.Getenv(k)
		if vars[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "guestpass: %s not set: GUESTPASS_URL is the tenant's issuer (e.g. http://localhost:8080/demo), "+
			"GUESTPASS_CLIENT_ID and GUESTPASS_CLIENT_SECRET an admin client of that tenant (admin: true in its config)\n",
			strings.Join(missing, ", "))
		return nil, exitUsage
	}
	cl, err := adminclient.New(vars["GUESTPASS_URL"], vars["GUESTPASS_CLIENT_ID"], vars["GUESTPASS_CLIENT_SECRET"], &http.Client{Timeout: adminclient.DefaultTimeout})
	if err != nil {
		fmt.Fprintln(stderr, "guestpass: GUESTPASS_URL:", err)
		return nil, exitUsage
	}
	return &adminCmd{client: cl, id: vars["GUESTPASS_CLIENT_ID"]}, 0
}

// report turns an action's error into a message that names the fix, and
// an exit code. The secret and the token are never part of it.
func (c *adminCmd) report(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var unreachable *adminclient.UnreachableError
	var api *adminclient.APIError
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintln(stderr, "guestpass:", err)
		return exitUsage
	case errors.As(err, &unreachable):
		fmt.Fprintf(stderr, "guestpass: %v\n(is the server running, and is GUESTPASS_URL right?)\n", err)
		return exitUnreachable
	case errors.Is(err, adminclient.ErrBadCredentials):
		fmt.Fprintf(stderr, "guestpass: GUESTPASS_CLIENT_SECRET is wrong for GUESTPASS_CLIENT_ID=%s, or this tenant has no such client: the token endpoint refused them\n", c.id)
		return exitRefused
	case errors.Is(err, adminclient.ErrNotAdmin):
		fmt.Fprintf(stderr, "guestpass: GUESTPASS_CLIENT_ID=%s is not an admin client of this tenant: use a client with admin: true in the config\n", c.id)
		return exitRefused
	case errors.Is(err, adminclient.ErrNoTenant):
		fmt.Fprintf(stderr, "guestpass: GUESTPASS_URL is not a tenant's issuer: %v\n", err)
		return exitUsage
	case errors.As(err, &api):
		return c.reportAPI(api, stderr)
	}
	fmt.Fprintln(stderr, "guestpass:", err)
	return exitFailed
}

func (c *adminCmd) reportAPI(e *adminclient.APIError, stderr io.Writer) int {
	switch e.Status {
	case http.StatusUnauthorized:
		fmt.Fprintf(stderr, "guestpass: the admin API refused the access token of GUESTPASS_CLIENT_ID=%s: %s\n", c.id, e.Message)
		return exitRefused
	case http.StatusForbidden:
		fmt.Fprintf(stderr, "guestpass: GUESTPASS_CLIENT_ID=%s may not use the admin API: %s\n", c.id, e.Message)
		return exitRefused
	case http.StatusNotFound:
		fmt.Fprintf(stderr, "guestpass: %s\n", e.Message)
		return exitNotFound
	case http.StatusBadRequest, http.StatusConflict:
		fmt.Fprintf(stderr, "guestpass: the server refused the request: %s\n", e.Message)
		return exitFailed
	}
	fmt.Fprintf(stderr, "guestpass: %v\n", e)
	return exitFailed
}

// raw prints the API's JSON as it came.
func (c *adminCmd) raw(b []byte) {
	c.out.Write(b)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		fmt.Fprintln(c.out)
	}
}
