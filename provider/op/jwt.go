package op

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Tokens are compact JWS (RFC 7515 §7.1) signed with ES256 (RFC 7518
// §3.4), or RS256 (§3.3) for the ID tokens of a client configured for it,
// by the code below rather than through go-jose and the library's
// claim types: a token endpoint signs two JWTs per request, and building a
// go-jose signer per token, then marshalling the library's claims three
// times over (struct, map, merged map) cost more than the signature
// itself. The protected header of each kind is encoded once per key; the
// claims are plain structs whose JSON is the library's (jwt_test.go
// compares them with op.CreateIDToken's).

// JWT "typ" values: access tokens are at+jwt (RFC 9068 §2.1), so a
// resource server cannot mistake one for an ID token or the reverse; ID
// tokens are JWT, as the library typed them.
const (
	accessTokenType = "at+jwt"
	idTokenType     = "JWT"
)

// jwsHeader is the protected header; its fields in go-jose's order.
type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// encodedHeader is the base64url protected header of a key's tokens of
// one typ, with the '.' that ends it: the start of every signing input.
func encodedHeader(alg jose.SignatureAlgorithm, kid, typ string) (string, error) {
	b, err := json.Marshal(jwsHeader{Alg: string(alg), Kid: kid, Typ: typ})
	if err != nil {
		return "", fmt.Errorf("jws header: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b) + ".", nil
}

// errWrongKey refuses a key that is not of its algorithm (ES256: P-256;
// RS256: RSA of at least rsaKeyBits): a damaged or foreign key set.
var errWrongKey = errors.New("signing key does not fit its algorithm")

// signJWS returns header.payload.signature for the JSON of claims (the
// claims we sign, with their encoders in jsonenc.go), with header one of
// the key's encoded headers.
func (k *signingKey) signJWS(header string, claims jsonAppender) (string, error) {
	payload, err := marshalJSON(claims, 512)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	enc := base64.RawURLEncoding
	const ecSigLen = 64 // r and s, 32 bytes each (RFC 7518 §3.4)
	sigLen := ecSigLen
	if k.rsa != nil {
		sigLen = k.rsa.Size()
	}
	buf := make([]byte, 0, len(header)+enc.EncodedLen(len(payload))+1+enc.EncodedLen(sigLen))
	buf = append(buf, header...)
	buf = enc.AppendEncode(buf, payload)
	digest := sha256.Sum256(buf)
	buf = append(buf, '.')
	if k.rsa != nil {
		// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
		sig, err := rsa.SignPKCS1v15(nil, k.rsa, crypto.SHA256, digest[:])
		if err != nil {
			return "", fmt.Errorf("sign: %w", err)
		}
		return string(enc.AppendEncode(buf, sig)), nil
	}
	r, s, err := ecdsa.Sign(rand.Reader, k.key, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	var sig [ecSigLen]byte
	r.FillBytes(sig[:ecSigLen/2])
	s.FillBytes(sig[ecSigLen/2:])
	return string(enc.AppendEncode(buf, sig[:])), nil
}

// errBadJWS is every way a JWS can fail verification; the caller says
// what kind of token was refused.
var errBadJWS = errors.New("invalid JWS")

// verifyJWS checks raw, a compact JWS, and returns its payload: ES256 by a
// key of the ring published now, with the protected header typ. Only
// guestpass signs with these keys, and only with the headers above, so
// nothing beyond alg, kid and typ is looked at (no crit, b64 or jku).
func (r *keyRing) verifyJWS(ctx context.Context, raw, typ string) ([]byte, error) {
	head, rest, ok := strings.Cut(raw, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.Contains(sig, ".") {
		return nil, errBadJWS
	}
	enc := base64.RawURLEncoding
	hb, err := enc.DecodeString(head)
	if err != nil {
		return nil, errBadJWS
	}
	var h jwsHeader
	if err := json.Unmarshal(hb, &h); err != nil || h.Alg != string(jose.ES256) || h.Typ != typ {
		return nil, errBadJWS
	}
	ks, err := r.set(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	k := ks.publishedKey(h.Kid, r.clock())
	if k == nil {
		return nil, errBadJWS
	}
	sb, err := enc.DecodeString(sig)
	if err != nil || len(sb) != 64 {
		return nil, errBadJWS
	}
	digest := sha256.Sum256([]byte(raw[:len(head)+1+len(payload)]))
	rr, ss := new(big.Int).SetBytes(sb[:32]), new(big.Int).SetBytes(sb[32:])
	if !ecdsa.Verify(&k.key.PublicKey, digest[:], rr, ss) {
		return nil, errBadJWS
	}
	pb, err := enc.DecodeString(payload)
	if err != nil {
		return nil, errBadJWS
	}
	return pb, nil
}

// newSigningKey is an opened key of alg with its headers encoded.
func newSigningKey(id string, alg jose.SignatureAlgorithm, priv any) (*signingKey, error) {
	k := &signingKey{id: id, alg: alg}
	switch p := priv.(type) {
	case *ecdsa.PrivateKey:
		if alg != jose.ES256 || p.Curve != elliptic.P256() {
			return nil, errWrongKey
		}
		k.key = p
	case *rsa.PrivateKey:
		if alg != jose.RS256 || p.N.BitLen() < rsaKeyBits {
			return nil, errWrongKey
		}
		k.rsa = p
	default:
		return nil, errWrongKey
	}
	var err error
	if alg == jose.ES256 { // access tokens are ES256 only
		if k.atHeader, err = encodedHeader(alg, id, accessTokenType); err != nil {
			return nil, err
		}
	}
	if k.idHeader, err = encodedHeader(alg, id, idTokenType); err != nil {
		return nil, err
	}
	return k, nil
}
