package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/guestpass/guestpass/pkg/adminclient"
)

// inviteFlags registers invite's flags and returns its action.
func inviteFlags(fs *flag.FlagSet) action {
	name := fs.String("name", "", "the guest's display name")
	redirect := fs.String("redirect", "", "where the redeem link leads after sign-in (default: the tenant's apps page)")
	noMail := fs.Bool("no-mail", false, "do not mail the link; print it only")
	return func(c *adminCmd, ctx context.Context, args []string) error {
		inv, raw, err := c.client.Invite(ctx, adminclient.InviteRequest{
			Email: args[0], DisplayName: *name, RedirectURL: *redirect, SendMail: !*noMail})
		if err != nil {
			return err
		}
		if c.json {
			c.raw(raw)
			return nil
		}
		verb := "invited"
		if inv.Reinvited {
			verb = "re-invited (same guest, new link)"
		}
		fmt.Fprintf(c.out, "%s %s: guest %s\n", verb, printable(inv.Guest.Email), printable(inv.Guest.ID))
		if !*noMail {
			fmt.Fprintln(c.out, "the invitation mail is on its way")
		}
		fmt.Fprintln(c.out, "redeem link:", inv.RedeemURL)
		return nil
	}
}

// listFlags registers list's flags. Without --page-size every page is
// fetched (nextPageToken followed); with it, one page, and the next
// page's token is printed for the following call.
func listFlags(fs *flag.FlagSet) action {
	source := fs.String("source", "", "only guests of this source (otp, or a connector id)")
	state := fs.String("state", "", "only PendingAcceptance or Accepted guests")
	size := fs.Int("page-size", 0, "fetch one page of this size instead of every page")
	token := fs.String("page-token", "", "fetch the one page this token (a printed nextPageToken) names")
	return func(c *adminCmd, ctx context.Context, _ []string) error {
		f := adminclient.Filter{Source: *source, State: *state, PageSize: *size, PageToken: *token}
		if *size > 0 || *token != "" {
			return c.onePage(ctx, f)
		}
		return c.allPages(ctx, f)
	}
}

func (c *adminCmd) onePage(ctx context.Context, f adminclient.Filter) error {
	p, raw, err := c.client.List(ctx, f)
	if err != nil {
		return err
	}
	if c.json {
		c.raw(raw)
		return nil
	}
	guestTable(c.out, p.Guests)
	if p.NextPageToken != "" {
		fmt.Fprintf(c.out, "next page: --page-token %s\n", p.NextPageToken)
	}
	return nil
}

// allPages follows nextPageToken to the end. --json prints the API's own
// shape with every guest object as the API sent it.
func (c *adminCmd) allPages(ctx context.Context, f adminclient.Filter) error {
	var all []adminclient.Guest
	var rawGuests []json.RawMessage
	for {
		p, raw, err := c.client.List(ctx, f)
		if err != nil {
			return err
		}
		all = append(all, p.Guests...)
		var page struct {
			Guests []json.RawMessage `json:"guests"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("list: the answer is not the admin API's JSON: %w", err)
		}
		rawGuests = append(rawGuests, page.Guests...)
		if p.NextPageToken == "" {
			break
		}
		f.PageToken = p.NextPageToken
	}
	if c.json {
		if rawGuests == nil {
			rawGuests = []json.RawMessage{}
		}
		b, err := json.Marshal(struct {
			Guests        []json.RawMessage `json:"guests"`
			NextPageToken string            `json:"nextPageToken"`
		}{rawGuests, ""})
		if err != nil {
			return fmt.Errorf("encode list: %w", err)
		}
		c.raw(b)
		return nil
	}
	guestTable(c.out, all)
	return nil
}

// guestTable is the people's view: the Source column is the seed's
// "users from other organisations" view.
func guestTable(w io.Writer, gs []adminclient.Guest) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tSTATE\tSOURCE\tINVITED\tREDEEMED\tLAST SIGN-IN")
	for _, g := range gs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dash(g.ID), dash(g.Email), dash(g.DisplayName), dash(g.State),
			dash(g.Source), dash(g.InvitedAt), dash(g.RedeemedAt), dash(g.LastSignInAt))
	}
	_ = tw.Flush()
	if len(gs) == 0 {
		fmt.Fprintln(w, "(no guests)")
	}
}

// dash is a table cell: "-" for nothing, and what the server sent made
// harmless for a terminal (see printable).
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return printable(s)
}

// printable escapes what a terminal would act on instead of show: control
// characters (escape sequences, line breaks, tabs that would break the
// columns) and other non-printing runes as Go escapes (\x1b, \u009b), and
// bytes of invalid UTF-8 as \xNN. The server refuses such names, but the
// table must not trust whoever answers at GUESTPASS_URL.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r == ' ' || unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

func (c *adminCmd) printGuest(g *adminclient.Guest, raw []byte) {
	if c.json {
		c.raw(raw)
		return
	}
	guestTable(c.out, []adminclient.Guest{*g})
}

func (c *adminCmd) get(ctx context.Context, args []string) error {
	g, raw, err := c.client.Get(ctx, args[0])
	if err != nil {
		return err
	}
	c.printGuest(g, raw)
	return nil
}

func (c *adminCmd) delete(ctx context.Context, args []string) error {
	if err := c.client.Delete(ctx, args[0]); err != nil {
		return err
	}
	if !c.json {
		fmt.Fprintln(c.out, "deleted guest", args[0])
	}
	return nil
}

func (c *adminCmd) reset(ctx context.Context, args []string) error {
	g, raw, err := c.client.Reset(ctx, args[0])
	if err != nil {
		return err
	}
	c.printGuest(g, raw)
	return nil
}

func (c *adminCmd) printPolicy(p *adminclient.Policy, raw []byte) {
	if c.json {
		c.raw(raw)
		return
	}
	state := "off"
	if p.EmailOTP.Enabled {
		state = "on"
	}
	from := "from the config file"
	if p.EmailOTP.From == "admin" {
		from = "set through the admin API (policy clear returns to the config file's value)"
	}
	fmt.Fprintf(c.out, "passcode sign-in (emailOTP): %s, %s\n", state, from)
}

func (c *adminCmd) policyGet(ctx context.Context, _ []string) error {
	p, raw, err := c.client.Policy(ctx)
	if err != nil {
		return err
	}
	c.printPolicy(p, raw)
	return nil
}

func (c *adminCmd) policyClear(ctx context.Context, _ []string) error {
	p, raw, err := c.client.ClearPolicy(ctx)
	if err != nil {
		return err
	}
	c.printPolicy(p, raw)
	return nil
}

// onOff is --email-otp's value: on or off, and nothing else.
type onOff struct {
	set, on bool
}

func (o *onOff) String() string {
	if !o.set {
		return ""
	}
	if o.on {
		return "on"
	}
	return "off"
}

func (o *onOff) Set(s string) error {
	switch s {
	case "on":
		o.on = true
	case "off":
		o.on = false
	default:
		return fmt.Errorf("use on or off, not %q", s)
	}
	o.set = true
	return nil
}

func policySetFlags(fs *flag.FlagSet) action {
	var v onOff
	fs.Var(&v, "email-otp", "on or off: passcode sign-in for the tenant, on every replica at once")
	return func(c *adminCmd, ctx context.Context, _ []string) error {
		if !v.set {
			return usageError("policy set needs --email-otp=on or --email-otp=off")
		}
		p, raw, err := c.client.SetEmailOTP(ctx, v.on)
		if err != nil {
			return err
		}
		c.printPolicy(p, raw)
		return nil
	}
}

// usageError is a mistake in the command line found after parsing.
type usageError string

func (e usageError) Error() string { return string(e) }
