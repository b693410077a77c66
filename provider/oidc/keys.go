package oidc

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/guestpass/guestpass/pkg/store"
)

// keyRefresh is how long a replica trusts its cached key set before
// re-reading the store (so a key written by another replica is seen).
const keyRefresh = 5 * time.Minute

// derive returns a sub-key of secret for one purpose, so one configured
// secret never serves two uses directly.
func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// storedKey is one signing key as kept in the store: the private key is
// sealed with AES-GCM under a key derived from the configured secrets.
type storedKey struct {
	ID        string    `json:"kid"`
	Alg       string    `json:"alg"`
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"created"`
}

type signingKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key *ecdsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return p.k.alg }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }

// keyRing holds one tenant's signing keys. The first replica to need a key
// creates it with SetNX; every other replica reads the winner's, so replicas
// starting at once publish the same JWKS.
type keyRing struct {
	st     store.Store
	key    string // store key
	aead   cipher.AEAD
	clock  func() time.Time
	mu     sync.Mutex
	cur    *signingKey
	loaded time.Time
}

func newKeyRing(st store.Store, tenant string, secret []byte, clock func() time.Time) (*keyRing, error) {
	block, err := aes.NewCipher(derive(secret, "guestpass/signing-keys/v1"))
	if err != nil {
		return nil, fmt.Errorf("signing key cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("signing key cipher: %w", err)
	}
	return &keyRing{st: st, key: store.Key(tenant, "signing-key"), aead: aead, clock: clock}, nil
}

// current returns the signing key, loading or creating it when needed.
// The lock is never held across a store call: with the store down, a
// queue of requests behind one slow load would be a hung server.
func (r *keyRing) current(ctx context.Context) (*signingKey, error) {
	r.mu.Lock()
	cur, loaded := r.cur, r.loaded
	r.mu.Unlock()
	if cur != nil && r.clock().Sub(loaded) < keyRefresh {
		return cur, nil
	}
	k, err := r.load(ctx)
	if err != nil {
		if cur != nil {
			// Keep signing with the key we have while the store is away.
			return cur, nil
		}
		return nil, err
	}
	r.mu.Lock()
	r.cur, r.loaded = k, r.clock()
	r.mu.Unlock()
	return k, nil
}

func (r *keyRing) load(ctx context.Context) (*signingKey, error) {
	raw, err := r.st.Get(ctx, r.key)
	if errors.Is(err, store.ErrNotFound) {
		fresh, gerr := r.generate()
		if gerr != nil {
			return nil, gerr
		}
		if _, serr := r.st.SetNX(ctx, r.key, fresh, 0); serr != nil {
			return nil, fmt.Errorf("store signing key: %w", serr)
		}
		// Whether we won or not, the stored key is the one to use.
		raw, err = r.st.Get(ctx, r.key)
	}
	if err != nil {
		return nil, fmt.Errorf("load signing key: %w", err)
	}
	return r.open(raw)
}

func (r *keyRing) generate() ([]byte, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("marshal signing key: %w", err)
	}
	nonce := make([]byte, r.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	sk := storedKey{
		ID:        uuid.NewString(),
		Alg:       string(jose.ES256),
		Sealed:    r.aead.Seal(nonce, nonce, der, []byte(r.key)),
		CreatedAt: r.clock().UTC(),
	}
	return json.Marshal(sk)
}

func (r *keyRing) open(raw []byte) (*signingKey, error) {
	var sk storedKey
	if err := json.Unmarshal(raw, &sk); err != nil {
		return nil, fmt.Errorf("decode signing key: %w", err)
	}
	ns := r.aead.NonceSize()
	if len(sk.Sealed) < ns {
		return nil, errors.New("signing key record is damaged")
	}
	der, err := r.aead.Open(nil, sk.Sealed[:ns], sk.Sealed[ns:], []byte(r.key))
	if err != nil {
		return nil, fmt.Errorf("unseal signing key (were the secrets changed?): %w", err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse signing key: %w", err)
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("signing key is not ECDSA")
	}
	return &signingKey{id: sk.ID, alg: jose.SignatureAlgorithm(sk.Alg), key: priv}, nil
}

// keySet returns the public keys to publish.
func (r *keyRing) keySet(ctx context.Context) ([]op.Key, error) {
	k, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	return []op.Key{publicKey{k}}, nil
}
