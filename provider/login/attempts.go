package login

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
)

// The password page's attempt discipline (PRODUCT.md B2: "the same attempt
// discipline as passcodes"). Every password attempt for an address is
// counted before the connector is asked, in the step's one batch, and over
// the tenant's budget (emailOTP.maxFailuresPerHour) the connector is not
// asked at all. The count is of attempts, not failures: counting first is
// what keeps parallel guesses from all slipping through before the first
// failure is recorded, and a success does not reset it (a stranger's
// guesses must not be wiped by the owner, nor the owner's by a success in
// between guesses).
//
// The counter is parallel to the passcode's failure counter, not shared:
// an address is bound to one method (sticky sources), so sharing would
// only couple two scripts for no gain, and the passcode's counts failures
// after the check while this one counts attempts before it. A browser
// with a device cookie for the address (it signed in as it before) spends
// its own budget, as with passcodes.

// attemptWindow is the budget's period.
const attemptWindow = time.Hour

// attemptKey is the counter of an address (device "") or of one trusted
// browser for it. addrID is the address's keyed hash (Guests.AddressID):
// key names carry no address. The key is its own hash tag (a plain
// INCR needs no slot shared with others): a tenant's counters spread over
// a Cluster.
func attemptKey(tenant, addrID, device string) string {
	if device == "" {
		return store.TagKey(tenant, addrID, "login", "pw")
	}
	h := sha256.New()
	h.Write([]byte(addrID))
	h.Write([]byte{0})
	h.Write([]byte(device))
	id := hex.EncodeToString(h.Sum(nil)[:16])
	return store.TagKey(tenant, id, "login", "dpw")
}

// countAttempt is the read of one counted attempt: the count including it.
func countAttempt(tenant, addrID, device string) *store.Read[int64] {
	op := store.IncrOp(attemptKey(tenant, addrID, device), 1, attemptWindow)
	return store.NewRead(op, func(op *store.Op) (int64, error) {
		if op.Err != nil {
			return 0, fmt.Errorf("password attempts: %w", op.Err)
		}
		return op.N, nil
	})
}
