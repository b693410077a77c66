package guests

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
)

// addressID with its pooled HMAC states names a record as a fresh
// hmac.New did (records written by every replica, old and new, are found
// under the same key), reused and from several goroutines at once.
func TestAddressIDIsTheFreshHMAC(t *testing.T) {
	codeKey := []byte("guests-test-code-key-0123456789ab")
	r := NewRepo(nil, codeKey, nil)
	m := hmac.New(sha256.New, codeKey)
	m.Write([]byte("guestpass/guests/record-names/v1"))
	nameKey := m.Sum(nil)
	want := func(tenant, canonical string) string {
		m := hmac.New(sha256.New, nameKey)
		var n [4]byte
		for _, f := range []string{tenant, canonical} {
			binary.BigEndian.PutUint32(n[:], uint32(len(f)))
			m.Write(n[:])
			m.Write([]byte(f))
		}
		return hex.EncodeToString(m.Sum(nil)[:16])
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for n := range 300 {
				tenant, canonical := fmt.Sprintf("tenant-%d", g), fmt.Sprintf("guest%d@example.com", n)
				if got, want := r.addressID(tenant, canonical), want(tenant, canonical); got != want {
					errs <- fmt.Errorf("addressID(%s, %s) = %s, want %s", tenant, canonical, got, want)
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
