// The race detector's instrumentation allocates on its own: allocation
// counts are checked without it.

//go:build !race

package session

import "testing"

// newID, validID and stateCookieName each make at most one allocation.
func TestIDsAllocateOnce(t *testing.T) {
	id, err := newID()
	if err != nil {
		t.Fatal(err)
	}
	key := "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	for name, f := range map[string]func(){
		"newID":           func() { _, _ = newID() },
		"validID":         func() { _ = validID(id) },
		"stateCookieName": func() { _ = stateCookieName(key) },
	} {
		if n := testing.AllocsPerRun(100, f); n > 1 {
			t.Errorf("%s: %v allocations", name, n)
		}
	}
}
