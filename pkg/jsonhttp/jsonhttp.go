// Package jsonhttp writes the JSON answers of guestpass's programmatic
// endpoints (the OP's token, userinfo, introspection and OAuth errors,
// the admin API, the server's own errors for programs and /readyz) with
// one set of headers. They were written in three places and had drifted: the OP's
// answers lacked nosniff, the server's and the admin API's lacked
// Pragma. Discovery and the JWKS are cacheable by design and write their
// own headers.
package jsonhttp

import (
	"encoding/json"
	"net/http"
)

// header sets the headers of an uncacheable JSON answer and writes
// status: application/json; no-store with HTTP/1.0's Pragma (RFC 6749
// §5.1 asks both of a token answer, and no answer here is for a cache);
// nosniff, so no browser reads the body as anything but JSON.
func header(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
}

// Write sends v's JSON with header's headers. The status is written
// before v is encoded, so v must be a value that encodes (the callers'
// own types and maps of strings).
func Write(w http.ResponseWriter, status int, v any) {
	header(w, status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteBody sends body, JSON already encoded, as Write would.
func WriteBody(w http.ResponseWriter, status int, body []byte) {
	header(w, status)
	_, _ = w.Write(body)
}
