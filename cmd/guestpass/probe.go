package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// probe is a health check for images without curl (distroless): GET the
// URL, succeed on a 2xx.
func probe(ctx context.Context, url string, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(stderr, "guestpass probe:", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "guestpass probe:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		fmt.Fprintln(stderr, "guestpass probe:", url, resp.Status)
		return 1
	}
	return 0
}
