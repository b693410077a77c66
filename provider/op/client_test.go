package op

import "testing"

// DevMode (an http redirect URI for a public client) follows config's
// loopback rule, canon.LoopbackHost: any case of localhost, 127.0.0.0/8
// and ::1; anything else over http turns it off.
func TestHTTPOnlyLoopback(t *testing.T) {
	for uris, want := range map[[2]string]bool{
		{"http://LocalHost:5555/callback", ""}:                      true,
		{"http://127.0.0.2/cb", "http://[::1]:8080/cb"}:             true,
		{"https://app.example/cb", "http://localhost/cb"}:           true,
		{"https://app.example/cb", ""}:                              true,
		{"http://app.example/cb", ""}:                               false,
		{"http://localhost/cb", "http://localhost.evil.example/cb"}: false,
	} {
		list := []string{uris[0]}
		if uris[1] != "" {
			list = append(list, uris[1])
		}
		if got := httpOnlyLoopback(list); got != want {
			t.Errorf("httpOnlyLoopback(%v) = %v, want %v", list, got, want)
		}
	}
}
