// Package hmacpool computes HMAC-SHA256 under one key with reused states.
//
// hmac.New costs, at every call, the HMAC, two SHA-256 states and the
// padded key (seven objects, about 500 bytes): a sign-in made a dozen of
// them, for passcode ids, CSRF tokens and record names, under keys that
// never change. A Pool keeps the keyed states instead: after a Sum the
// state is Reset, which for crypto/hmac restores the state right after
// the key (hmac.Reset's documented meaning; from the second use on it
// copies the saved intermediate state rather than hashing the padded key
// again), so the next message is MACed under the same key as by a fresh
// hmac.New. The saved states are as secret as the key itself and live
// as long as it does.
package hmacpool

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sync"
)

// Size is the length of a MAC.
const Size = sha256.Size

// maxMessage bounds the message buffer a MAC keeps for its next use: the
// odd long message does not stay pinned in the pool.
const maxMessage = 1 << 10

// Pool hands out MACs under one key. The zero Pool is not usable: build
// it with New. It is safe for concurrent use.
type Pool struct {
	pool sync.Pool
}

// New returns a Pool of HMAC-SHA256 states under key (copied).
func New(key []byte) *Pool {
	key = append([]byte(nil), key...)
	p := &Pool{}
	p.pool.New = func() any {
		h := hmac.New(sha256.New, key)
		// The first Reset of a fresh state rehashes the key without
		// clearing the inner hash's buffer, which would keep the first
		// message's last partial block (a passcode) while the state
		// waits in the pool. Reset before any message saves the keyed
		// state, and every later Reset restores it whole.
		h.Reset()
		return &MAC{h: h, pool: p}
	}
	return p
}

// Get returns a MAC with an empty message. Write the message to it, then
// call Sum, which gives it back.
func (p *Pool) Get() *MAC { return p.pool.Get().(*MAC) }

// MAC is one message being MACed. The message is gathered in a buffer of
// its own and hashed once by Sum: writing a string straight to the hash
// (an interface) would copy it to the heap first.
type MAC struct {
	h    hash.Hash // keyed, at its start
	msg  []byte
	sum  [Size]byte // Sum's output, here so that it needs no allocation
	pool *Pool
}

// WriteString appends s to the message.
func (m *MAC) WriteString(s string) { m.msg = append(m.msg, s...) }

// WriteField appends s prefixed with its length (four bytes, big-endian),
// so that no field can be shifted into its neighbour.
func (m *MAC) WriteField(s string) {
	m.msg = binary.BigEndian.AppendUint32(m.msg, uint32(len(s)))
	m.msg = append(m.msg, s...)
}

// HexHalf is the first half of sum in hex (Size characters): the name a
// MAC gives an id or an address in store keys, long enough to be unique
// and short enough to keep keys small.
func HexHalf(sum [Size]byte) string {
	var b [Size]byte // two hex digits for each of the half's bytes
	hex.Encode(b[:], sum[:Size/2])
	return string(b[:])
}

// Sum returns the MAC of the message and gives m back to its pool: m
// must not be used afterwards.
func (m *MAC) Sum() [Size]byte {
	m.h.Write(m.msg)
	var out [Size]byte
	copy(out[:], m.h.Sum(m.sum[:0]))
	m.h.Reset()
	// The message may hold secrets (a passcode): none stays behind in
	// the pool.
	clear(m.sum[:])
	clear(m.msg)
	if cap(m.msg) > maxMessage {
		m.msg = nil
	}
	m.msg = m.msg[:0]
	m.pool.pool.Put(m)
	return out
}
