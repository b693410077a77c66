package guests

import (
	"fmt"
	"testing"
	"time"
)

// member writes the entry fmt.Sprintf("%020d|%s|%s") wrote (the indexes
// of every replica hold them), in one allocation.
func TestMemberAsBefore(t *testing.T) {
	for _, created := range []time.Time{{}, time.Unix(0, 0), time.Unix(0, 1), time.Unix(-5, 0), time.Date(2026, 11, 29, 20, 0, 0, 123, time.UTC),
		time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)} {
		g := &Guest{ID: "0f8e0a2c-1d2e-4f5a-9b8c-7d6e5f4a3b2c", Canonical: "ada+x@example.com", CreatedAt: created}
		want := fmt.Sprintf("%020d|%s|%s", max(g.created().UnixNano(), 0), g.ID, g.Canonical)
		if got := member(g); got != want {
			t.Errorf("member(%v) = %q, want %q", created, got, want)
		}
		if n := testing.AllocsPerRun(10, func() { _ = member(g) }); n != 1 {
			t.Errorf("member: %v allocations", n)
		}
	}
}
