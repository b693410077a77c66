package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a config file.
type Problem struct {
	// Key is the path of the offending key, e.g.
	// tenants[1].clients[0].redirectURIs[2]. Empty for problems that belong
	// to no key (YAML syntax errors).
	Key string
	// Line is the 1-based line in the file, 0 when unknown.
	Line int
	// Message says what is wrong and, after "; ", how to fix it.
	Message string
}

// Error lists every problem found in a file, not only the first, so an
// admin fixes them in one round.
type Error struct {
	File     string
	Problems []Problem
}

// Error renders one line per problem: "FILE: KEY: what is wrong; how to fix
// it (line N)".
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String(e.File))
	}
	return b.String()
}

// String renders the problem for file.
func (p Problem) String(file string) string {
	switch {
	case p.Key == "" && p.Line > 0:
		return fmt.Sprintf("%s: line %d: %s", file, p.Line, p.Message)
	case p.Key == "":
		return fmt.Sprintf("%s: %s", file, p.Message)
	case p.Line > 0:
		return fmt.Sprintf("%s: %s: %s (line %d)", file, p.Key, p.Message, p.Line)
	default:
		return fmt.Sprintf("%s: %s: %s", file, p.Key, p.Message)
	}
}

// Has reports whether some problem is about key (tests and check-config).
func (e *Error) Has(key string) bool {
	for _, p := range e.Problems {
		if p.Key == key {
			return true
		}
	}
	return false
}
