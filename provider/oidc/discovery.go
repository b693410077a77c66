package oidc

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// serveDiscovery adds to the library's discovery document what it cannot
// know: that every authorization response carries iss (RFC 9207 §3), so
// clients that check iss only when advertised do check it.
func serveDiscovery(next http.Handler, w http.ResponseWriter, r *http.Request) {
	rec := &bufferWriter{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(rec, r)
	body := rec.body.Bytes()
	if rec.status == http.StatusOK {
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err == nil {
			doc["authorization_response_iss_parameter_supported"] = true
			if b, err := json.Marshal(doc); err == nil {
				body = b
			}
		}
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.status)
	_, _ = w.Write(body)
}

// bufferWriter holds a response so it can be amended before it is sent.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) WriteHeader(code int)        { b.status = code }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
