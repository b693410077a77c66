package store

import (
	"strconv"
	"strings"
)

// Signature names a script's KEYS, ARGV and integer results once, for the
// Lua and its Go twin alike. The Go side indexes keys and args by constants
// declared in the order of Keys and Args (a [n]string of names makes the
// compiler hold the two to one length); Preamble declares a Lua local of
// each name, so the Lua body reads names, not positions, and a reordered
// argument cannot mean one thing in Lua and another in Go.
type Signature struct {
	Keys    []string // Lua locals bound to KEYS[1..]
	Args    []string // Lua locals bound to ARGV[1..] (strings; tonumber as needed)
	Results []Result // Lua locals holding the result codes
}

// Result is one named result code of a script.
type Result struct {
	Name  string
	Value int64
}

// Preamble is the Lua that binds the names: put it before the body.
func (s Signature) Preamble() string {
	var b strings.Builder
	for i, k := range s.Keys {
		b.WriteString("local " + k + " = KEYS[" + strconv.Itoa(i+1) + "]\n")
	}
	for i, a := range s.Args {
		b.WriteString("local " + a + " = ARGV[" + strconv.Itoa(i+1) + "]\n")
	}
	for _, r := range s.Results {
		b.WriteString("local " + r.Name + " = " + strconv.FormatInt(r.Value, 10) + "\n")
	}
	return b.String()
}
