package op

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/guestpass/guestpass/pkg/derive"
	"github.com/guestpass/guestpass/pkg/store"
)

// Key lifetimes (PRODUCT.md B6). A key signs for the rotation period
// (configurable, DefaultKeyRotation); its successor is written to the store
// and published publishLead before it starts signing, and a replaced key
// stays published for retireAfter, well beyond the lifetime of the tokens
// it signed (an hour).
const (
	DefaultKeyRotation = 30 * 24 * time.Hour
	retireAfter        = 24 * time.Hour
	// keyRefresh is how long a replica trusts its cached key set before
	// re-reading the store (so a key written by another replica is seen).
	keyRefresh = 5 * time.Minute
	// loadRetry is how long a replica keeps its cached set after a failed
	// re-read before it asks the store again.
	loadRetry = 10 * time.Second
	// jwksMaxAge is how long a relying party may cache our JWKS
	// (Cache-Control on /keys).
	jwksMaxAge = 5 * time.Minute
	// publishLead is how long a new key is published before it signs: every
	// replica re-reads the store within keyRefresh and every relying party
	// re-fetches the JWKS within jwksMaxAge of that, so by the switch every
	// cached JWKS holds the key; the rest is margin for clock skew between
	// replicas and slow relying parties.
	publishLead = time.Hour
	// MinKeyRotation is the shortest rotation period: a key must sign for
	// longer than its successor is published ahead of it.
	MinKeyRotation = 2 * publishLead
	// maxRotationRounds bounds the compare-and-swap loop of a rotation.
	maxRotationRounds = 5
)

// The lead must cover a replica's cache plus a relying party's cache; a
// constant overflow here (a negative uint) fails the build if it does not.
const _ = uint(publishLead - keyRefresh - jwksMaxAge)

// jwksCacheControl is the Cache-Control of the JWKS response.
var jwksCacheControl = "public, max-age=" + strconv.Itoa(int(jwksMaxAge/time.Second))

// storedKey is one signing key as kept in the store: the private key is
// sealed with AES-GCM under a key derived from the configured secrets.
type storedKey struct {
	ID        string    `json:"kid"`
	Alg       string    `json:"alg"`
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"created"`
	// ActiveAt is when the key starts signing: every replica switches at
	// this stored time on its own clock, with no message between them.
	// Zero in sets written before keys were published ahead of use: such a
	// key signed from CreatedAt.
	ActiveAt time.Time `json:"active,omitzero"`
}

// activeAt is when the key signs from.
func (k storedKey) activeAt() time.Time {
	if k.ActiveAt.IsZero() {
		return k.CreatedAt
	}
	return k.ActiveAt
}

// storedSet is a tenant's keys, the latest to sign first; a key is retired
// when the one before it in the list becomes active.
type storedSet struct {
	Keys []storedKey `json:"keys"`
}

type signingKey struct {
	id  string
	alg jose.SignatureAlgorithm
	// key is an ES256 key's, rsa an RS256 key's; the other is nil.
	key *ecdsa.PrivateKey
	rsa *rsa.PrivateKey
	// atHeader and idHeader are the encoded protected headers of the
	// key's access (ES256 keys only) and ID tokens (jwt.go).
	atHeader, idHeader string
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any {
	if k.rsa != nil {
		return k.rsa
	}
	return k.key
}
func (k *signingKey) ID() string { return k.id }

type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return p.k.alg }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any {
	if p.k.rsa != nil {
		return &p.k.rsa.PublicKey
	}
	return &p.k.key.PublicKey
}

// ringKey is an opened key and when it signs from.
type ringKey struct {
	key    *signingKey
	active time.Time
}

// keySet is a loaded set, the latest to sign first. Which key signs and
// which are published is decided at each use from the stored times, not at
// load: a replica holding a cached set switches to the next key at the
// same moment as one that has just read the store.
type keySet struct {
	keys []ringKey
}

// signingAt returns the key that signs at now: the latest one active.
func (ks *keySet) signingAt(now time.Time) *signingKey {
	for _, k := range ks.keys {
		if !k.active.After(now) {
			return k.key
		}
	}
	// Only future keys (a clock behind the one that wrote the set): the
	// earliest is the one the others sign with first.
	return ks.keys[len(ks.keys)-1].key
}

// publishedAt returns the keys to publish at now: the next key(s), the
// signing key, and keys replaced less than retireAfter ago.
func (ks *keySet) publishedAt(now time.Time) []op.Key {
	out := make([]op.Key, 0, len(ks.keys))
	for i, k := range ks.keys {
		if ks.published(i, now) {
			out = append(out, publicKey{k.key})
		}
	}
	return out
}

// published reports whether the i-th key is published at now: every key
// but one replaced retireAfter ago or longer.
func (ks *keySet) published(i int, now time.Time) bool {
	return i == 0 || now.Before(ks.keys[i-1].active.Add(retireAfter))
}

// publishedKey is the key named kid if it is published at now, or nil:
// a token verifies only with a key a relying party could fetch too.
func (ks *keySet) publishedKey(kid string, now time.Time) *signingKey {
	for i, k := range ks.keys {
		if k.key.id == kid && ks.published(i, now) {
			return k.key
		}
	}
	return nil
}

// keyRing holds one tenant's signing keys in the store. Every change is a
// compare-and-swap of the whole set, so when several replicas start at
// once, or find a rotation due at once, exactly one of them writes and
// all of them then use (and publish) what it wrote.
type keyRing struct {
	alg      jose.SignatureAlgorithm // of every key of the ring
	st       store.Store
	key      string // store key
	aead     cipher.AEAD
	clock    func() time.Time
	rotation time.Duration
	mu       sync.Mutex
	cur      *keySet
	loaded   time.Time
	// loading is closed when the load in flight ends (nil: none);
	// loadErr is how the last load ended.
	loading chan struct{}
	loadErr error
}

// RSA keys: RS256 is for ID tokens of the clients configured for it
// (PRODUCT.md B6: ES256 by default, RS256 available per client), whose
// libraries verify nothing else. 2048 bits, the size RFC 7518 §3.3 asks
// at least and every such library takes.
const rsaKeyBits = 2048

// ringStoreKey names a ring's key set in the store: the ES256 ring keeps
// the name it had before RS256 existed.
func ringStoreKey(tenant string, alg jose.SignatureAlgorithm) string {
	if alg == jose.ES256 {
		return store.Key(tenant, "signing-keys")
	}
	return store.Key(tenant, "signing-keys-rsa")
}

// newKeyRing returns a tenant's key ring of alg (ES256 or RS256);
// rotation is how long each key signs (0: DefaultKeyRotation).
func newKeyRing(alg jose.SignatureAlgorithm, st store.Store, tenant string, secret []byte, clock func() time.Time, rotation time.Duration) (*keyRing, error) {
	if alg != jose.ES256 && alg != jose.RS256 {
		return nil, fmt.Errorf("signing keys: algorithm %s is not served", alg)
	}
	if rotation == 0 {
		rotation = DefaultKeyRotation
	}
	if rotation < MinKeyRotation {
		return nil, fmt.Errorf("signing key rotation %s is shorter than the minimum %s", rotation, MinKeyRotation)
	}
	block, err := aes.NewCipher(derive.Key(secret, "guestpass/signing-keys/v1"))
	if err != nil {
		return nil, fmt.Errorf("signing key cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("signing key cipher: %w", err)
	}
	return &keyRing{alg: alg, st: st, key: ringStoreKey(tenant, alg), aead: aead, clock: clock, rotation: rotation}, nil
}

// set returns the key set, loading, creating or rotating it when due.
// The lock is never held across a store call: with the store down, a
// queue of requests behind one slow load would be a hung server.
//
// One load at a time per replica: requests that find a load in flight
// use the keys they have, or, before the first load, wait for its
// outcome; otherwise each of them would make a key of its own (an RSA
// key: 40 ms) for the compare-and-swap to throw away.
func (r *keyRing) set(ctx context.Context) (*keySet, error) {
	r.mu.Lock()
	cur, loading := r.cur, r.loading
	if cur != nil && (loading != nil || r.clock().Sub(r.loaded) < keyRefresh) {
		r.mu.Unlock()
		return cur, nil
	}
	if loading != nil {
		r.mu.Unlock()
		select {
		case <-loading:
		case <-ctx.Done():
			return nil, fmt.Errorf("signing keys: %w", ctx.Err())
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.cur != nil {
			return r.cur, nil
		}
		return nil, r.loadErr
	}
	done := make(chan struct{})
	r.loading = done
	r.mu.Unlock()

	ks, err := r.load(ctx)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.loading, r.loadErr = nil, err
	close(done)
	switch {
	case err == nil:
		r.cur, r.loaded = ks, r.clock()
	case cur != nil:
		// Keep signing with the keys we have while the store is away:
		// they include the next key once it was written, so the switch
		// still happens on time. Ask the store again only after
		// loadRetry, not at every request: a store that answers reads
		// but refuses writes would otherwise have each request make (and
		// lose) a new key.
		r.loaded = r.clock().Add(loadRetry - keyRefresh)
		ks, err = cur, nil
	}
	return ks, err
}

// load reads the stored set and, when it is missing or its signing key
// needs a successor, writes the next set with a compare-and-swap.
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
		if !r.due(set, now) {
			return r.open(set)
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
			return r.open(next)
		}
		// Another replica wrote first: read and use its set.
	}
	return nil, errors.New("signing keys: too much contention")
}

// due reports whether set needs a new key: it is empty, or no successor is
// waiting and the signing key's period ends within publishLead.
func (r *keyRing) due(set storedSet, now time.Time) bool {
	if len(set.Keys) == 0 {
		return true
	}
	latest := set.Keys[0].activeAt()
	if latest.After(now) {
		return false // a successor is already published
	}
	return !now.Before(latest.Add(r.rotation - publishLead))
}

// rotate returns set with a new key in front and keys replaced more than
// retireAfter ago dropped. The first key of a tenant signs at once (no
// token was signed before it); every later key signs at the end of the
// current period, and never sooner than publishLead from now, so every
// replica and every relying party has it before it signs.
func (r *keyRing) rotate(set storedSet, now time.Time) (storedSet, error) {
	active := now
	if len(set.Keys) > 0 {
		active = set.Keys[0].activeAt().Add(r.rotation)
		if lead := now.Add(publishLead); active.Before(lead) {
			active = lead
		}
	}
	fresh, err := r.generate(now, active)
	if err != nil {
		return storedSet{}, err
	}
	next := storedSet{Keys: []storedKey{fresh}}
	for i, k := range set.Keys {
		// Key i was replaced when key i-1 of the old set became active.
		if i > 0 && !now.Before(set.Keys[i-1].activeAt().Add(retireAfter)) {
			break
		}
		next.Keys = append(next.Keys, k)
	}
	return next, nil
}

func (r *keyRing) generate(now, active time.Time) (storedKey, error) {
	var (
		priv any
		err  error
	)
	if r.alg == jose.RS256 {
		priv, err = rsa.GenerateKey(rand.Reader, rsaKeyBits)
	} else {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
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
		Alg:       string(r.alg),
		Sealed:    r.aead.Seal(nonce, nonce, der, []byte(r.key+"|"+id)),
		CreatedAt: now.UTC(),
		ActiveAt:  active.UTC(),
	}, nil
}

// open unseals a set, ordered the latest to sign first. Which of its keys
// sign and are published is decided at use (keySet.signingAt/publishedAt).
func (r *keyRing) open(set storedSet) (*keySet, error) {
	if len(set.Keys) == 0 {
		return nil, errors.New("signing keys: empty set")
	}
	ks := &keySet{keys: make([]ringKey, 0, len(set.Keys))}
	for _, sk := range set.Keys {
		k, err := r.unseal(sk)
		if err != nil {
			return nil, err
		}
		ks.keys = append(ks.keys, ringKey{key: k, active: sk.activeAt()})
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
	if jose.SignatureAlgorithm(sk.Alg) != r.alg {
		return nil, fmt.Errorf("signing key %s is %s in the %s key set", sk.ID, sk.Alg, r.alg)
	}
	return newSigningKey(sk.ID, r.alg, parsed)
}

// current returns the key that signs now.
func (r *keyRing) current(ctx context.Context) (*signingKey, error) {
	ks, err := r.set(ctx)
	if err != nil {
		return nil, err
	}
	return ks.signingAt(r.clock()), nil
}

// keySet returns the public keys to publish.
func (r *keyRing) keySet(ctx context.Context) ([]op.Key, error) {
	ks, err := r.set(ctx)
	if err != nil {
		return nil, err
	}
	return ks.publishedAt(r.clock()), nil
}
