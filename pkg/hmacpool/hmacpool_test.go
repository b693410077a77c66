package hmacpool

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func fresh(key []byte, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

// A pooled MAC, reused many times (every use after a Reset), gives the
// MAC a fresh hmac.New gives, for messages of every length around the
// block size and beyond the buffer a MAC keeps.
func TestPooledMACIsTheFreshOne(t *testing.T) {
	for _, key := range [][]byte{[]byte("0123456789abcdef"), []byte(strings.Repeat("k", 64)), []byte(strings.Repeat("long key ", 20))} {
		p := New(key)
		for n := range 2*maxMessage + 3 {
			msg := []byte(strings.Repeat("m", n))
			m := p.Get()
			m.WriteString(string(msg[:n/2]))
			m.WriteString(string(msg[n/2:]))
			got := m.Sum()
			if want := fresh(key, msg); !hmac.Equal(got[:], want) {
				t.Fatalf("key %d bytes, message %d bytes: pooled %x, fresh %x", len(key), n, got, want)
			}
		}
	}
}

// WriteField is the length (big-endian uint32) and then the bytes.
func TestWriteField(t *testing.T) {
	key := []byte("0123456789abcdef")
	m := New(key).Get()
	m.WriteField("label")
	m.WriteField("")
	m.WriteField("tenant")
	got := m.Sum()
	var msg []byte
	for _, f := range []string{"label", "", "tenant"} {
		msg = binary.BigEndian.AppendUint32(msg, uint32(len(f)))
		msg = append(msg, f...)
	}
	if want := fresh(key, msg); !hmac.Equal(got[:], want) {
		t.Fatalf("pooled %x, fresh %x", got, want)
	}
}

// Pools of different keys used at once, from many goroutines, never
// hand one key's state to the other's caller, and no message leaks into
// another's MAC.
func TestPoolsConcurrentlyKeepTheirKeys(t *testing.T) {
	keys := [][]byte{[]byte("first key 0123456"), []byte("second key 654321")}
	pools := []*Pool{New(keys[0]), New(keys[1])}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := (g + i) % 2
				msg := fmt.Sprintf("goroutine %d message %d %s", g, i, strings.Repeat("x", i%70))
				m := pools[k].Get()
				m.WriteString(msg)
				got := m.Sum()
				if want := fresh(keys[k], []byte(msg)); !hmac.Equal(got[:], want) {
					errs <- fmt.Errorf("pool %d, %q: %x, want %x", k, msg, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// New copies the key: a caller's later change to its slice changes
// nothing.
func TestNewCopiesTheKey(t *testing.T) {
	key := []byte("0123456789abcdef")
	p := New(key)
	want := fresh(key, []byte("m"))
	key[0] = 'X'
	m := p.Get()
	m.WriteString("m")
	if got := m.Sum(); !hmac.Equal(got[:], want) {
		t.Fatalf("the pool follows the caller's slice")
	}
}

// BenchmarkSum compares a pooled MAC with hmac.New per message (a CSRF
// token's message).
//
//	go test -run '^$' -bench . -benchmem ./pkg/hmacpool
func BenchmarkSum(b *testing.B) {
	key := []byte("0123456789abcdef0123456789abcdef")
	msg := "csrf|contoso|Zm9vYmFyYmF6cXV4cXV1eA"
	b.Run("hmac.New", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := hmac.New(sha256.New, key)
			h.Write([]byte(msg))
			_ = h.Sum(nil)
		}
	})
	b.Run("pool", func(b *testing.B) {
		p := New(key)
		b.ReportAllocs()
		for b.Loop() {
			m := p.Get()
			m.WriteString(msg)
			_ = m.Sum()
		}
	})
}

// No message stays behind in a MAC once Sum gave it back: its buffer, its
// sum and its hash state hold nothing of a passcode, from the first use
// on. (crypto/hmac's
// first Reset of a fresh state rehashes the key without clearing the inner
// hash's buffer, which still held the message's last partial block.)
func TestNoMessageStaysInThePooledState(t *testing.T) {
	p := New([]byte("key"))
	for use := range 3 {
		m := p.Get()
		h := m.h
		needle := fmt.Sprintf("PASSCODE%08d", 12345678+use)
		m.WriteString("tenant|challenge|ada@example.com|" + needle)
		sum := m.Sum()
		if holds(reflect.ValueOf(h), []byte(needle), map[uintptr]bool{}) {
			t.Fatalf("use %d: the pooled state still holds %q", use, needle)
		}
		if bytes.Contains(m.msg[:cap(m.msg)], []byte(needle)) || bytes.Contains(m.sum[:], sum[:8]) {
			t.Fatalf("use %d: the pooled MAC keeps its message or its sum", use)
		}
	}
}

// holds walks v's memory (through pointers, interfaces, structs, arrays and
// slices, unexported fields included) for needle.
func holds(v reflect.Value, needle []byte, seen map[uintptr]bool) bool {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return false
		}
		seen[v.Pointer()] = true
		return holds(v.Elem(), needle, seen)
	case reflect.Interface:
		return !v.IsNil() && holds(v.Elem(), needle, seen)
	case reflect.Struct:
		for i := range v.NumField() {
			if holds(v.Field(i), needle, seen) {
				return true
			}
		}
	case reflect.Array, reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			for i := range b {
				b[i] = byte(v.Index(i).Uint())
			}
			return bytes.Contains(b, needle[len(needle)-8:])
		}
		for i := range v.Len() {
			if holds(v.Index(i), needle, seen) {
				return true
			}
		}
	}
	return false
}
