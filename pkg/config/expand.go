package config

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// envRef is one variable reference found while expanding, with its position
// in the expanded text (1-based line and rune column) so a later problem
// about the key holding it can name the variable.
type envRef struct {
	name string
	line int
	col  int
	set  bool
}

// bcryptLiteral matches a whole bcrypt hash. Hashes look like
// "$2a$10$<53 chars>", and the salt may start with a letter, which would
// otherwise read as a variable reference; PRODUCT.md shows hashes written
// unescaped, so a complete hash is copied as is ("$$" escaping works too).
var bcryptLiteral = regexp.MustCompile(`^\$2[abxy]?\$[0-9]{2}\$[./A-Za-z0-9]{53}`)

// argon2Literal matches a whole argon2 PHC string
// ("$argon2id$v=19$m=65536,t=2,p=2$<salt>$<hash>"), copied as is for the
// same reason: "$argon2id", "$v" and "$m" would read as variables. argon2i
// and argon2d are matched too, so the validator can say why they are refused.
var argon2Literal = regexp.MustCompile(`^\$argon2(?:id|i|d)\$v=[0-9]+\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+`)

// expandEnv replaces $NAME and ${NAME} with values from lookup, and $$ with
// a literal $. A $ that starts no valid name (e.g. "$2", "$ ", a final "$")
// is left as is. Unset variables expand to empty. Values holding CR, LF or
// NUL are refused: they would change the YAML structure (and never belong
// in a secret or a password).
func expandEnv(data []byte, lookup func(string) (string, bool)) ([]byte, []envRef, []Problem) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	var (
		out   strings.Builder
		refs  []envRef
		probs []Problem
		line  = 1
		col   = 1
	)
	write := func(s string) {
		out.WriteString(s)
		for _, r := range s {
			if r == '\n' {
				line++
				col = 1
			} else {
				col++
			}
		}
	}
	s := string(data)
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			_, w := utf8.DecodeRuneInString(s[i:])
			write(s[i : i+w])
			i += w
			continue
		}
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "$$"):
			write("$")
			i += 2
			continue
		case bcryptLiteral.MatchString(rest):
			m := bcryptLiteral.FindString(rest)
			write(m)
			i += len(m)
			continue
		case argon2Literal.MatchString(rest):
			m := argon2Literal.FindString(rest)
			write(m)
			i += len(m)
			continue
		case strings.HasPrefix(rest, "${"):
			end := strings.IndexAny(rest, "}\n")
			if end < 0 || rest[end] != '}' || !isEnvName(rest[2:end]) {
				shown := rest
				if nl := strings.IndexByte(shown, '\n'); nl >= 0 {
					shown = shown[:nl]
				}
				if end > 0 && rest[end] == '}' {
					shown = rest[:end+1]
				}
				probs = append(probs, Problem{Line: line, Message: fmt.Sprintf(
					"%q is not a valid variable reference; write ${NAME} (letters, digits, _), or $$ for a literal $", shown)})
				write("$")
				i++
				continue
			}
			name := rest[2:end]
			refs, probs = substitute(name, lookup, line, col, refs, probs, write)
			i += end + 1
			continue
		case len(rest) > 1 && isEnvStart(rest[1]):
			n := 2
			for n < len(rest) && isEnvChar(rest[n]) {
				n++
			}
			refs, probs = substitute(rest[1:n], lookup, line, col, refs, probs, write)
			i += n
			continue
		default:
			write("$")
			i++
		}
	}
	return []byte(out.String()), refs, probs
}

func substitute(name string, lookup func(string) (string, bool), line, col int,
	refs []envRef, probs []Problem, write func(string)) ([]envRef, []Problem) {
	v, ok := lookup(name)
	refs = append(refs, envRef{name: name, line: line, col: col, set: ok})
	if strings.ContainsAny(v, "\r\n\x00") {
		probs = append(probs, Problem{Line: line, Message: fmt.Sprintf(
			"environment variable %s contains a line break or NUL, which would change the file's structure; remove it from the value", name)})
		return refs, probs
	}
	write(v)
	return refs, probs
}

func isEnvStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isEnvChar(c byte) bool { return isEnvStart(c) || ('0' <= c && c <= '9') }

func isEnvName(s string) bool {
	if s == "" || !isEnvStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isEnvChar(s[i]) {
			return false
		}
	}
	return true
}
