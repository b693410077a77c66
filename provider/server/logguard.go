package server

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/guestpass/guestpass/pkg/canon"
)

// The log guard (PRODUCT.md B8; issue 6 item 12) keeps every log line free
// of tokens, secrets and unmasked addresses, and bounded in size, whatever
// a caller or a library hands the logger: zitadel logged whole
// authorization requests (a complete id_token_hint, the unmasked
// login_hint), up to 1 MB per line. Our own code logs carefully; the guard
// is what makes "never" hold for code we do not control.
const (
	// maxLogText bounds the message and any one string value.
	maxLogText = 2 << 10
	// maxLogStack bounds a stack trace (zap.Stack fields, entry stacks).
	maxLogStack = 16 << 10
	// maxLogBudget bounds the bytes of all values of one entry (or of one
	// With call), keys included.
	maxLogBudget = 8 << 10
	// maxLogItems bounds the fields of an entry and the members of any
	// map or list in a value; maxLogDepth the nesting of values.
	maxLogItems = 32
	maxLogDepth = 6

	redacted = "[redacted]"
)

var (
	// jwtPattern finds JWTs (JWS: 3 parts, JWE: 5) and lone JWT headers or
	// payloads: base64url JSON objects start with "eyJ" ({").
	jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{16,}(?:\.[A-Za-z0-9_-]*){0,4}`)
)

// jwtMark starts every match of jwtPattern.
const jwtMark = "eyJ"

// keyClass says how a value is treated by the name of its key.
type keyClass int

const (
	plainKey   keyClass = iota
	secretKey           // never logged: redacted
	addressKey          // an address: masked
)

// classify knows the keys that hold credentials or addresses, in OAuth,
// OIDC, HTTP and guestpass spellings.
func classify(key string) keyClass {
	k := strings.ReplaceAll(strings.ToLower(key), "-", "_")
	switch k {
	case "id_token_hint", "id_token", "idtokenhint", "token", "access_token", "refresh_token",
		"code", "code_verifier", "client_secret", "clientsecret", "secret", "password", "passwd",
		"assertion", "client_assertion", "authorization", "cookie", "set_cookie", "csrf",
		"passcode", "otp", "request", "private_key", "bindpw", "subject_token", "actor_token":
		return secretKey
	case "login_hint", "loginhint", "email", "to", "address", "username", "preferred_username",
		"mail", "recipient":
		return addressKey
	}
	return plainKey
}

// GuardCore wraps c so that every entry written through it is cleaned:
// values under secret keys redacted, addresses masked, JWT-looking strings
// redacted anywhere, and every message, value and entry bounded in size.
// Wrapping twice is the same as once.
func GuardCore(c zapcore.Core) zapcore.Core {
	if g, ok := c.(guardCore); ok {
		return g
	}
	return guardCore{next: c}
}

type guardCore struct{ next zapcore.Core }

func (g guardCore) Enabled(l zapcore.Level) bool { return g.next.Enabled(l) }

// Level lets zap find the minimum level through the wrapper.
func (g guardCore) Level() zapcore.Level { return zapcore.LevelOf(g.next) }

func (g guardCore) With(fields []zapcore.Field) zapcore.Core {
	return guardCore{next: g.next.With(cleanFields(fields))}
}

func (g guardCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if g.Enabled(e.Level) {
		return ce.AddCore(e, g)
	}
	return ce
}

func (g guardCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	e.Message = cleanText(e.Message, maxLogText)
	e.Stack = truncate(e.Stack, maxLogStack)
	return g.next.Write(e, cleanFields(fields))
}

func (g guardCore) Sync() error { return g.next.Sync() }

// cleaner cleans the fields of one entry within one byte budget.
type cleaner struct{ budget int }

func cleanFields(fields []zapcore.Field) []zapcore.Field {
	c := &cleaner{budget: maxLogBudget}
	out := make([]zapcore.Field, 0, min(len(fields), maxLogItems+1))
	for i, f := range fields {
		if i == maxLogItems {
			out = append(out, zap.Int("fields_dropped", len(fields)-i))
			break
		}
		out = c.appendField(out, f)
	}
	return out
}

// appendField appends f, cleaned, to out. Scalars other than strings
// carry no secrets and pass; everything that can hold text is turned into
// cleaned text or a cleaned generic value.
func (c *cleaner) appendField(out []zapcore.Field, f zapcore.Field) []zapcore.Field {
	c.spend(len(f.Key))
	switch f.Type {
	case zapcore.SkipType, zapcore.NamespaceType, zapcore.BoolType, zapcore.DurationType, zapcore.TimeType,
		zapcore.TimeFullType, zapcore.Int64Type, zapcore.Int32Type, zapcore.Int16Type, zapcore.Int8Type,
		zapcore.Uint64Type, zapcore.Uint32Type, zapcore.Uint16Type, zapcore.Uint8Type, zapcore.UintptrType,
		zapcore.Float64Type, zapcore.Float32Type, zapcore.Complex128Type, zapcore.Complex64Type:
		return append(out, f)
	case zapcore.StringType:
		return append(out, zap.String(f.Key, c.text(f.Key, f.String)))
	case zapcore.ByteStringType:
		b, _ := f.Interface.([]byte)
		return append(out, zap.String(f.Key, c.text(f.Key, string(b))))
	case zapcore.BinaryType:
		b, _ := f.Interface.([]byte)
		return append(out, zap.String(f.Key, fmt.Sprintf("[%d bytes]", len(b))))
	case zapcore.ErrorType:
		return append(out, zap.String(f.Key, c.text(f.Key, safeString(f.Interface))))
	case zapcore.StringerType:
		return append(out, zap.String(f.Key, c.text(f.Key, safeString(f.Interface))))
	}
	// Objects, arrays, reflected values: encode to a generic value first,
	// so that what is cleaned is exactly what would have been written.
	enc := zapcore.NewMapObjectEncoder()
	f.AddTo(enc)
	if f.Type == zapcore.InlineMarshalerType {
		for k, v := range enc.Fields {
			out = append(out, zap.Any(k, c.value(k, v, 0)))
		}
		return out
	}
	return append(out, zap.Any(f.Key, c.value(f.Key, enc.Fields[f.Key], 0)))
}

// value cleans a generic value (maps, lists, scalars) under key.
func (c *cleaner) value(key string, v any, depth int) any {
	if depth > maxLogDepth || c.budget <= 0 {
		return "[truncated]"
	}
	if classify(key) == secretKey && !isScalar(v) {
		return redacted // a whole object under a secret key
	}
	switch x := v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return x
	case string:
		return c.text(key, x)
	case []byte:
		return c.text(key, string(x))
	case error, fmt.Stringer:
		return c.text(key, safeString(x))
	case map[string]any:
		out := make(map[string]any, min(len(x), maxLogItems))
		for k, vv := range x {
			if len(out) == maxLogItems {
				out["fields_dropped"] = len(x) - maxLogItems
				break
			}
			c.spend(len(k))
			out[k] = c.value(k, vv, depth+1)
		}
		return out
	case []any:
		out := make([]any, 0, min(len(x), maxLogItems+1))
		for i, vv := range x {
			if i == maxLogItems {
				out = append(out, fmt.Sprintf("[%d more]", len(x)-i))
				break
			}
			out = append(out, c.value(key, vv, depth+1))
		}
		return out
	}
	// Anything else (structs, typed maps and slices) as its JSON shape,
	// so its field names are seen as keys.
	b, err := json.Marshal(v)
	if err != nil {
		return c.text(key, fmt.Sprintf("[%T]", v))
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return c.text(key, string(b))
	}
	return c.value(key, generic, depth+1)
}

// isScalar reports numbers, booleans, nil and strings (strings are
// cleaned by text).
func isScalar(v any) bool {
	switch v.(type) {
	case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return true
	}
	return false
}

// text cleans one string value under key, within the entry's budget.
func (c *cleaner) text(key, s string) string {
	switch classify(key) {
	case secretKey:
		if s == "" {
			return ""
		}
		return redacted
	case addressKey:
		if strings.Contains(s, "@") {
			s = canon.MaskEmail(truncate(s, maxLogText))
		} else if strings.Contains(strings.ToLower(key), "hint") && s != "" {
			s = "***"
		}
	}
	// A stack trace has its own bound outside the budget, so that a panic
	// keeps its frames however much else the line holds.
	limit := min(maxLogText, max(c.budget, 64))
	if key == "stack" || key == "stacktrace" {
		limit = maxLogStack
	}
	s = cleanText(s, limit)
	c.spend(len(s))
	return s
}

func (c *cleaner) spend(n int) { c.budget -= n }

// cleanText bounds s, then redacts JWTs and masks addresses in it. Most
// text holds neither, and the check for the marks every JWT and address
// carry costs far less than a regexp's replace, which allocates even
// when nothing matches: every access log line passes here.
func cleanText(s string, limit int) string {
	s = truncate(s, limit)
	if strings.Contains(s, jwtMark) {
		s = jwtPattern.ReplaceAllString(s, "[jwt redacted]")
	}
	return canon.MaskAddresses(s)
}

// truncate cuts s to at most limit bytes (on a rune boundary) and says how
// much was cut.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("…[%d bytes truncated]", len(s)-cut)
}

// safeString renders an error or Stringer; a panicking one (say, a nil
// pointer receiver) is named by its type instead.
func safeString(v any) (s string) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("[%T]", v)
		}
	}()
	switch x := v.(type) {
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}
