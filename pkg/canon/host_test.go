package canon

import "testing"

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LocalHost": true, "127.0.0.1": true, "127.9.8.7": true, "::1": true,
		"0:0:0:0:0:0:0:1": true,
		"":                false, "0.0.0.0": false, "::": false, "[::1]": false, "localhost.": false,
		"localhost.example.com": false, "127.0.0.1.nip.io": false, "10.0.0.1": false,
		"::ffff:10.0.0.1": false, "example.com": false,
	} {
		if got := LoopbackHost(host); got != want {
			t.Errorf("LoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
