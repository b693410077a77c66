package redisstore

import "testing"

// A Redis older than 7.0 has no PEXPIRE NX or GT: a counter would keep
// no window, so a connection to one is refused. INFO answers in CRLF
// lines, as below.
func TestVersionOK(t *testing.T) {
	for info, ok := range map[string]bool{
		"# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n": false,
		"# Server\r\nredis_version:5.0.7\r\n":                           false,
		"# Server\r\nredis_version:7.0.0\r\n":                           true,
		"# Server\r\nredis_version:8.0.2\r\n":                           true,
		"# Server\r\nredis_mode:standalone\r\n":                         true, // no version: trusted
		"redis_version:unknown\r\n":                                     true,
	} {
		if err := versionOK(info); (err == nil) != ok {
			t.Errorf("versionOK(%q) = %v; want ok=%v", info, err, ok)
		}
	}
}
