package store

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

// TimeMember writes what fmt's "%020d|…" wrote (stored members stay as
// they are), and its members sort by time.
func TestTimeMember(t *testing.T) {
	times := []time.Time{time.Unix(0, 0), time.Unix(-5, 0), time.Unix(0, 1), time.Unix(1700000000, 123456789),
		time.Unix(1<<33, 0)}
	var members []string
	for i, at := range times {
		got := TimeMember(at, "id", fmt.Sprint(i))
		want := fmt.Sprintf("%020d|%s|%d", max(at.UnixNano(), 0), "id", i)
		if got != want {
			t.Errorf("TimeMember(%v) = %q, want %q", at, got, want)
		}
		members = append(members, got)
	}
	if got := TimeMember(time.Unix(0, 42)); got != fmt.Sprintf("%020d", 42) {
		t.Errorf("TimeMember without parts = %q", got)
	}
	if !sort.SliceIsSorted(members[2:], func(i, j int) bool { return members[2+i] < members[2+j] }) {
		t.Errorf("members do not sort by time: %q", members)
	}
}
