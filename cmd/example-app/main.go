// Command example-app is a small relying party for trying guestpass: it
// signs a person in with the authorization-code flow (PKCE S256, state,
// nonce, RFC 9207 iss check), shows the ID token's claims and the userinfo,
// refreshes the tokens and signs out through the tenant's end_session
// endpoint. Its defaults match the demo tenant of config/dev.yaml:
//
//	go run ./cmd/guestpass serve --config config/dev.yaml   # terminal 1
//	go run ./cmd/example-app                                # terminal 2
//
// then open http://127.0.0.1:5555/.
//
// Tokens stay in this process's memory, keyed by a random cookie; the
// pages never contain a token.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// run parses the flags and serves until ctx ends.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("example-app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.StringVar(&o.Issuer, "issuer", "http://localhost:8080/demo", "the tenant's issuer URL")
	fs.StringVar(&o.ClientID, "client-id", "example-app", "OAuth client id")
	fs.StringVar(&o.ClientSecret, "client-secret", "example-secret", "OAuth client secret")
	listen := fs.String("listen", "127.0.0.1:5555", "address to listen on")
	fs.StringVar(&o.RedirectURL, "redirect", "http://127.0.0.1:5555/callback", "redirect URI registered for the client")
	fs.StringVar(&o.PostLogoutURL, "post-logout-redirect", "http://127.0.0.1:5555/", "post_logout_redirect_uri registered for the client")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := zap.NewDevelopment()
	if err != nil {
		fmt.Fprintln(stderr, "example-app:", err)
		return 1
	}
	defer func() { _ = log.Sync() }()

	a, err := New(o, log, time.Now)
	if err != nil {
		fmt.Fprintln(stderr, "example-app:", err)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "example-app:", err)
		return 1
	}
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	log.Info("example app listening", zap.String("url", "http://"+ln.Addr().String()+"/"), zap.String("issuer", o.Issuer))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(stderr, "example-app:", err)
			return 1
		}
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	return 0
}
