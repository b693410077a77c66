// Package passhash reads, checks and makes the password hashes an admin
// writes into the config for directory users: bcrypt ($2a$, $2b$, $2y$)
// and argon2id in its PHC string form
// ($argon2id$v=19$m=65536,t=2,p=2$salt$hash).
//
// It lives under pkg/ because two layers need the same rules: the config
// validator (check-config names a bad hash precisely) and the directory
// connector (which verifies). Parsing is strict and bounded: a config must
// not be able to make every sign-in burn seconds of CPU or gigabytes of
// memory, so costs outside sane bounds are refused, not just slow.
package passhash

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// ErrFormat is wrapped by every error Parse returns.
var ErrFormat = errors.New("unusable password hash")

// Kind names a hash algorithm.
type Kind string

// The supported kinds.
const (
	Bcrypt   Kind = "bcrypt"
	Argon2id Kind = "argon2id"
)

// Bounds. bcrypt below cost 10 is too cheap against guessing (OWASP's
// floor); above 15 one sign-in takes seconds. argon2id: memory up to
// 256 MiB, passes up to 10, lanes up to 16, and memory × passes at most
// 1 GiB, which keeps one verification around a second at worst.
const (
	MinBcryptCost  = 10
	MaxBcryptCost  = 15
	MaxArgonMemory = 256 * 1024 // KiB
	MaxArgonTime   = 10
	MaxArgonLanes  = 16
	maxArgonWork   = 1024 * 1024 // KiB × passes
	minSaltLen     = 8
	maxSaltLen     = 64
	minKeyLen      = 16
	maxKeyLen      = 64
)

// Argon2Params are argon2id's cost parameters (memory in KiB).
type Argon2Params struct {
	Memory  uint32
	Time    uint32
	Threads uint8
}

// DefaultArgon2 is what hash-password uses: 64 MiB, 2 passes, 2 lanes.
// OWASP's Password Storage Cheat Sheet lists equivalent argon2id settings
// from m=19 MiB,t=2 up to m=46 MiB,t=1; RFC 9106's second recommendation
// is m=64 MiB,t=3. 64 MiB with 2 passes is above OWASP's minimums on both
// axes while keeping a verification around 0.1-0.3 s here, so a
// burst of sign-ins stays affordable (memory is held per concurrent one).
var DefaultArgon2 = Argon2Params{Memory: 64 * 1024, Time: 2, Threads: 2}

// DefaultBcryptCost is hash-password's bcrypt cost (OWASP: at least 10).
const DefaultBcryptCost = 12

// Hash is a parsed, bounds-checked password hash.
type Hash struct {
	kind   Kind
	encode string // the hash as written (bcrypt verifies from it)
	cost   int    // bcrypt
	argon  Argon2Params
	salt   []byte
	key    []byte
}

// Kind is the hash's algorithm.
func (h Hash) Kind() Kind { return h.kind }

// Parse reads a hash and refuses one it cannot verify, or whose cost is out
// of bounds. The error says what is wrong without repeating the hash.
func Parse(s string) (Hash, error) {
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		return parseBcrypt(s)
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$argon2"):
		return Hash{}, fmt.Errorf("%w: only argon2id is accepted, not argon2i or argon2d", ErrFormat)
	}
	return Hash{}, fmt.Errorf("%w: not a bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$) hash", ErrFormat)
}

func parseBcrypt(s string) (Hash, error) {
	// $2a$10$ + 22 salt + 31 hash characters.
	if len(s) != 60 || s[6] != '$' {
		return Hash{}, fmt.Errorf("%w: a bcrypt hash has 60 characters like $2a$12$...", ErrFormat)
	}
	cost, err := bcrypt.Cost([]byte(s))
	if err != nil {
		return Hash{}, fmt.Errorf("%w: bcrypt: %v", ErrFormat, err)
	}
	if cost < MinBcryptCost || cost > MaxBcryptCost {
		return Hash{}, fmt.Errorf("%w: bcrypt cost %d is outside %d..%d", ErrFormat, cost, MinBcryptCost, MaxBcryptCost)
	}
	if strings.IndexFunc(s[7:], func(r rune) bool { return !isBcryptB64(r) }) >= 0 {
		return Hash{}, fmt.Errorf("%w: bcrypt salt and hash use only ./A-Za-z0-9", ErrFormat)
	}
	return Hash{kind: Bcrypt, encode: s, cost: cost}, nil
}

func isBcryptB64(r rune) bool {
	return r == '.' || r == '/' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')
}

// b64 is the PHC string format's base64: standard alphabet, no padding,
// and strict, so one hash has one spelling.
var b64 = base64.RawStdEncoding.Strict()

func parseArgon2id(s string) (Hash, error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 {
		return Hash{}, fmt.Errorf("%w: argon2id hashes look like $argon2id$v=19$m=65536,t=2,p=2$SALT$HASH", ErrFormat)
	}
	if parts[2] != "v=19" {
		return Hash{}, fmt.Errorf("%w: argon2id version must be v=19", ErrFormat)
	}
	p, err := parseArgonParams(parts[3])
	if err != nil {
		return Hash{}, err
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return Hash{}, fmt.Errorf("%w: argon2id salt must be unpadded base64 of %d..%d bytes", ErrFormat, minSaltLen, maxSaltLen)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return Hash{}, fmt.Errorf("%w: argon2id hash must be unpadded base64 of %d..%d bytes", ErrFormat, minKeyLen, maxKeyLen)
	}
	return Hash{kind: Argon2id, encode: s, argon: p, salt: salt, key: key}, nil
}

// parseArgonParams reads "m=65536,t=2,p=2" exactly: these three, in this
// order, decimal without sign or leading zeros, each within bounds.
func parseArgonParams(s string) (Argon2Params, error) {
	bad := func(format string, args ...any) (Argon2Params, error) {
		return Argon2Params{}, fmt.Errorf("%w: argon2id "+format, append([]any{ErrFormat}, args...)...)
	}
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return bad("parameters must be m=<KiB>,t=<passes>,p=<lanes>")
	}
	var v [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		val, ok := strings.CutPrefix(fields[i], name+"=")
		n, err := strconv.ParseUint(val, 10, 32)
		if !ok || err != nil || val != strconv.FormatUint(n, 10) {
			return bad("parameters must be m=<KiB>,t=<passes>,p=<lanes>, in that order")
		}
		v[i] = n
	}
	m, t, p := v[0], v[1], v[2]
	switch {
	case p < 1 || p > MaxArgonLanes:
		return bad("p=%d is outside 1..%d", p, MaxArgonLanes)
	case t < 1 || t > MaxArgonTime:
		return bad("t=%d is outside 1..%d", t, MaxArgonTime)
	case m < 8*p || m > MaxArgonMemory:
		return bad("m=%d KiB is outside %d..%d (at least 8 KiB per lane)", m, 8*p, MaxArgonMemory)
	case m*t > maxArgonWork:
		return bad("m×t = %d KiB×passes exceeds %d; lower m or t", m*t, maxArgonWork)
	}
	return Argon2Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(p)}, nil
}

// Verify reports whether password matches; it always does the full work
// of the hash's cost.
func (h Hash) Verify(password string) bool {
	switch h.kind {
	case Bcrypt:
		return bcrypt.CompareHashAndPassword([]byte(h.encode), []byte(password)) == nil
	case Argon2id:
		got := argon2.IDKey([]byte(password), h.salt, h.argon.Time, h.argon.Memory, h.argon.Threads, uint32(len(h.key)))
		return subtle.ConstantTimeCompare(got, h.key) == 1
	}
	return false
}

// Params describes the cost, for grouping hashes that cost the same
// ("bcrypt cost=12", "argon2id m=65536,t=2,p=2 key=32").
func (h Hash) Params() string {
	if h.kind == Bcrypt {
		return fmt.Sprintf("bcrypt cost=%d", h.cost)
	}
	return fmt.Sprintf("argon2id m=%d,t=%d,p=%d key=%d", h.argon.Memory, h.argon.Time, h.argon.Threads, len(h.key))
}

// Dummy is a hash of the same kind and cost that no password matches in
// practice (its salt and key are fixed bytes no one hashed a password to):
// verifying an unknown user against it costs what a known user costs.
// It is built without hashing anything, so opening a connector is cheap.
func (h Hash) Dummy() Hash {
	d := h
	switch h.kind {
	case Bcrypt:
		// bcrypt decodes salt and hash from the string: a fixed string of
		// the same cost verifies with the same work.
		d.encode = h.encode[:7] + strings.Repeat("a", 53)
	case Argon2id:
		d.salt = make([]byte, len(h.salt))
		d.key = make([]byte, len(h.key))
		d.encode = ""
	}
	return d
}

// NewArgon2id hashes password with p and a random 16-byte salt into a
// 32-byte key, as a PHC string.
func NewArgon2id(password string, p Argon2Params) (string, error) {
	// Bounds first, before any work: never print a hash the config refuses.
	if _, err := parseArgonParams(fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads)); err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// NewBcrypt hashes password with bcrypt at cost.
func NewBcrypt(password string, cost int) (string, error) {
	if cost < MinBcryptCost || cost > MaxBcryptCost {
		return "", fmt.Errorf("%w: bcrypt cost %d is outside %d..%d", ErrFormat, cost, MinBcryptCost, MaxBcryptCost)
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("bcrypt: %w", err)
	}
	return string(b), nil
}
