package store

import (
	"strconv"
	"strings"
	"time"
)

// TimeMember is an ordered-set member that sorts by t (ZAdd keeps members
// in byte order): t's Unix nanoseconds as 20 zero-padded digits (a time
// before 1970 as zero), then each part after a "|". Built in one
// allocation: the guest indexes and the mail queues write one per
// sign-in, and fmt.Sprintf boxed each value and grew its buffer.
func TimeMember(t time.Time, parts ...string) string {
	var digits [20]byte // a non-negative int64 has at most 19
	d := strconv.AppendInt(digits[:0], max(t.UnixNano(), 0), 10)
	n := len(digits)
	for _, p := range parts {
		n += 1 + len(p)
	}
	var b strings.Builder
	b.Grow(n)
	for range len(digits) - len(d) {
		b.WriteByte('0')
	}
	b.Write(d)
	for _, p := range parts {
		b.WriteByte('|')
		b.WriteString(p)
	}
	return b.String()
}
