package op

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

// Key lifetimes (PRODUCT.md B6). A key signs for rotateAfter; once
// replaced it stays published for retireAfter, well beyond the lifetime
// of the tokens it signed (an hour) and of cached key sets (5 minutes).
const (
	rotateAfter = 30 * 24 * time.Hour
	retireAfter = 24 * time.Hour
	// keyRefresh is how long a replica trusts its cached key set before
	// re-reading the store (so a key written by another replica is seen).
	keyRefresh = 5 * time.Minute
	// maxRotationRounds bounds the compare-and-swap loop of a rotation.
	maxRotationRounds = 5
)

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
	// RetiredAt is when a newer key replaced this one (zero: current).
	RetiredAt time.Time `json:"retired,omitzero"`
}

// storedSet is a tenant's keys, newest (the signing key) first.
type storedSet struct {
	Keys []storedKey `json:"keys"`
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

// keySet is a loaded set: the key that signs and every key to publish.
type keySet struct {
	signing   *signingKey
	published []op.Key
}

// keyRing holds one tenant's signing keys in the store. Every change is a
// compare-and-swap of the whole set, so when several replicas start at
// once, or find a rotation due at once, exactly one of them writes and
// all of them then use (and publish) what it wrote.
type keyRing struct {
	st     store.Store
	key    string // store key
	aead   cipher.AEAD
	clock  func() time.Time
	mu     sync.Mutex
	cur    *keySet
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
	return &keyRing{st: st, key: store.Key(tenant, "signing-keys"), aead: aead, clock: clock}, nil
}

// set returns the key set, loading, creating or rotating it when due.
// The lock is never held across a store call: with the store down, a
// queue of requests behind one slow load would be a hung server.
func (r *keyRing) set(ctx context.Context) (*keySet, error) {
	r.mu.Lock()
	cur, loaded := r.cur, r.loaded
	r.mu.Unlock()
	if cur != nil && r.clock().Sub(loaded) < keyRefresh {
		return cur, nil
	}
	ks, err := r.load(ctx)
	if err != nil {
		if cur != nil {
			// Keep signing with the keys we have while the store is away.
			return cur, nil
		}
		return nil, err
	}
	r.mu.Lock()
	r.cur, r.loaded = ks, r.clock()
	r.mu.Unlock()
	return ks, nil
}

// load reads the stored set and, when it is missing or its signing key is
// due for rotation, writes the next set with a compare-and-swap.
func (r *keyRing) load(ctx context.Context) (*keySet, error) {
	for range maxRotationRounds {
		raw, err := r.st.Get(ctx, r.key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("load signing keys: %w", err)
		}
		var set storedSet
		if raw != nil {
			if err := json.Unmarshal(raw, &set); err != nil {
				return nil, fmt.Errorf("decode signing keys: %w", err)
			}
		}
		now := r.clock()
		if len(set.Keys) > 0 && now.Sub(set.Keys[0].CreatedAt) < rotateAfter {
			return r.open(set, now)
		}
		next, err := r.rotate(set, now)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(next)
		if err != nil {
			return nil, fmt.Errorf("encode signing keys: %w", err)
		}
		ok, err := r.st.CompareAndSwap(ctx, r.key, raw, b, 0)
		if err != nil {
			return nil, fmt.Errorf("store signing keys: %w", err)
		}
		if ok {
			return r.open(next, now)
		}
		// Another replica wrote first: read and use its set.
	}
	return nil, errors.New("signing keys: too much contention")
}

// rotate returns set with a new signing key in front, the previous one
// retired now, and keys retired long enough ago dropped.
func (r *keyRing) rotate(set storedSet, now time.Time) (storedSet, error) {
	fresh, err := r.generate(now)
	if err != nil {
		return storedSet{}, err
	}
	next := storedSet{Keys: []storedKey{fresh}}
	for i, k := range set.Keys {
		if i == 0 && k.RetiredAt.IsZero() {
			k.RetiredAt = now
		}
		if now.Sub(k.RetiredAt) < retireAfter {
			next.Keys = append(next.Keys, k)
		}
	}
	return next, nil
}

func (r *keyRing) generate(now time.Time) (storedKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return storedKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storedKey{}, fmt.Errorf("marshal signing key: %w", err)
	}
	nonce := make([]byte, r.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return storedKey{}, fmt.Errorf("nonce: %w", err)
	}
	id := uuid.NewString()
	return storedKey{
		ID:        id,
		Alg:       string(jose.ES256),
		Sealed:    r.aead.Seal(nonce, nonce, der, []byte(r.key+"|"+id)),
		CreatedAt: now.UTC(),
	}, nil
}

// open unseals a set: the first key signs; every key not retired for
// longer than retireAfter is published.
func (r *keyRing) open(set storedSet, now time.Time) (*keySet, error) {
	ks := &keySet{}
	for i, sk := range set.Keys {
		if i > 0 && now.Sub(sk.RetiredAt) >= retireAfter {
			continue
		}
		k, err := r.unseal(sk)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			ks.signing = k
		}
		ks.published = append(ks.published, publicKey{k})
	}
	if ks.signing == nil {
		return nil, errors.New("signing keys: empty set")
	}
	return ks, nil
}

func (r *keyRing) unseal(sk storedKey) (*signingKey, error) {
	ns := r.aead.NonceSize()
	if len(sk.Sealed) < ns {
		return nil, errors.New("signing key record is damaged")
	}
	der, err := r.aead.Open(nil, sk.Sealed[:ns], sk.Sealed[ns:], []byte(r.key+"|"+sk.ID))
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

// current returns the key that signs now.
func (r *keyRing) current(ctx context.Context) (*signingKey, error) {
	ks, err := r.set(ctx)
	if err != nil {
		return nil, err
	}
	return ks.signing, nil
}

// keySet returns the public keys to publish.
func (r *keyRing) keySet(ctx context.Context) ([]op.Key, error) {
	ks, err := r.set(ctx)
	if err != nil {
		return nil, err
	}
	return ks.published, nil
}
