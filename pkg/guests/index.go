package guests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
)

// The list indexes (PRODUCT.md B5 at scale): per tenant, three ordered
// sets of one member per guest, "<created, 20-digit unix ns>|<id>|<canonical>",
// so that they sort by creation time:
//
//   - store.Key(tenant, "gx", "all") — every guest;
//   - store.Key(tenant, "gx", "source", source) — by source ("" for none);
//   - store.Key(tenant, "gx", "state", state) — by state.
//
// A page is one ZRangeAfter on the narrowest index and one pipeline of
// record reads, whatever the number of guests: no scan on a request path.
//
// Consistency. Every write of a record goes through writeScript, which
// compares-and-swaps the record and adds its member to its three indexes
// (and its id and address to the GetByID hash) in one atomic step (a Lua script on Redis, under the shards' locks on
// memory): a crash cannot leave a written guest unlisted, because there is
// no moment at which the record is written and its index entries are not.
// Entries are never removed on a write (that would need to know that the
// write won, one more round trip); an entry that no longer describes its
// record (a state or source changed, a guest deleted or moved) is stale,
// skipped by readers and removed by them with cleanScript, which removes
// it only if the record is still the one the reader judged — so a writer
// that re-adds the same member at the same time never loses it.

func allIndexKey(tenant string) string { return store.Key(tenant, "gx", "all") }
func sourceIndexKey(tenant, source string) string {
	return store.Key(tenant, "gx", "source", source)
}
func stateIndexKey(tenant string, s State) string { return store.Key(tenant, "gx", "state", string(s)) }

// indexKeys are the indexes g belongs to.
func indexKeys(tenant string, g *Guest) []string {
	return []string{allIndexKey(tenant), sourceIndexKey(tenant, g.Source), stateIndexKey(tenant, g.State)}
}

// created is when g was first stored: CreatedAt, or for a record written
// before it existed, the earliest time it carries.
func (g *Guest) created() time.Time {
	for _, t := range []time.Time{g.CreatedAt, g.InvitedAt, g.RedeemedAt, g.LastSignInAt} {
		if !t.IsZero() {
			return t
		}
	}
	return time.Unix(0, 0)
}

// member is g's entry in every index: "<creation ns, 20 digits>|id|canonical".
func member(g *Guest) string { return store.TimeMember(g.created(), g.ID, g.Canonical) }

// parseMember splits an index entry; ok is false for anything that is not
// one (a tampered cursor).
func parseMember(m string) (id, canonical string, ok bool) {
	stamp, rest, ok1 := strings.Cut(m, "|")
	id, canonical, ok2 := strings.Cut(rest, "|")
	if !ok1 || !ok2 || len(stamp) != 20 || id == "" || canonical == "" || len(m) > 1024 {
		return "", "", false
	}
	if _, err := strconv.ParseUint(stamp, 10, 64); err != nil {
		return "", "", false
	}
	return id, canonical, true
}

// recordIsLua starts a script that goes on only while KEYS[1] is as the
// caller saw it: ARGV[1] "1" (absent) or ARGV[2] (its value); otherwise
// the script returns {0}. recordIs is its Go fallback.
const recordIsLua = `
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur then return {0} end
elseif (not cur) or cur ~= ARGV[2] then
  return {0}
end
`

// recordIs reports whether the record at key is as seen: absent when
// absent is "1", otherwise the value seen.
func recordIs(tx store.Tx, key, absent, seen string) (bool, error) {
	cur, err := tx.Get(key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return absent == "1", nil
	case err != nil:
		return false, err
	}
	return absent != "1" && bytes.Equal(cur, []byte(seen)), nil
}

// writeScript: KEYS record, ids hash, index...; ARGV prevAbsent
// ("1"/"0"), prev, next, member, id, canonical. Returns {1} when it swapped
// (and indexed), {0} otherwise. GetByID's hash is written with the ordered
// sets, so no crash leaves a listed guest that
// GET/DELETE/reset by id answer 404 for.
var writeScript = store.NewScript(recordIsLua+`redis.call('SET', KEYS[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[5], ARGV[6])
for i = 3, #KEYS do redis.call('ZADD', KEYS[i], 0, ARGV[4]) end
return {1}
`, func(tx store.Tx, keys, args []string) ([]int64, error) {
	if ok, err := recordIs(tx, keys[0], args[0], args[1]); err != nil {
		return nil, err
	} else if !ok {
		return []int64{0}, nil
	}
	if err := tx.Set(keys[0], []byte(args[2]), 0); err != nil {
		return nil, err
	}
	if err := tx.HSet(keys[1], args[4], []byte(args[5])); err != nil {
		return nil, err
	}
	for _, k := range keys[2:] {
		if err := tx.ZAdd(k, args[3]); err != nil {
			return nil, err
		}
	}
	return []int64{1}, nil
})

// cleanScript: KEYS record, index; ARGV absent ("1"/"0"), seen, member.
// Removes member from index only while the record is still as seen.
var cleanScript = store.NewScript(recordIsLua+`redis.call('ZREM', KEYS[2], ARGV[3])
return {1}
`, func(tx store.Tx, keys, args []string) ([]int64, error) {
	if ok, err := recordIs(tx, keys[0], args[0], args[1]); err != nil {
		return nil, err
	} else if !ok {
		return []int64{0}, nil
	}
	if err := tx.ZRem(keys[1], args[2]); err != nil {
		return nil, err
	}
	return []int64{1}, nil
})

func absentFlag(b []byte) string {
	if b == nil {
		return "1"
	}
	return "0"
}

// write compares-and-swaps the record of next (prev nil: only when
// absent) and indexes it, atomically; it reports whether it swapped.
func (r *Repo) write(ctx context.Context, tenant string, prev, raw []byte, next *Guest) (bool, error) {
	keys := append([]string{r.recordKey(tenant, next.Canonical), idsKey(tenant)}, indexKeys(tenant, next)...)
	res, err := r.st.Run(ctx, writeScript, keys, absentFlag(prev), string(prev), string(raw), member(next), next.ID, next.Canonical)
	if err != nil {
		return false, fmt.Errorf("guests: write %s: %w", tenant, err)
	}
	return len(res) == 1 && res[0] == 1, nil
}

// Page bounds: a page reads at most pageRounds batches of its size, so a
// filter that matches few guests answers a short page (with a token to go
// on) rather than walk a whole index in one request.
const pageRounds = 4

// page is TenantRepo.Page.
func (r *Repo) page(ctx context.Context, tenant string, f Filter, size int, cursor string) ([]*Guest, string, error) {
	if tenant == "" || size < 1 || size > MaxPageSize {
		return nil, "", fmt.Errorf("%w: tenant and a page size of 1..%d are required", errInvalid, MaxPageSize)
	}
	after := ""
	if cursor != "" {
		var ok bool
		if after, ok = parseCursor(cursor); !ok {
			return nil, "", ErrBadCursor
		}
	}
	key := allIndexKey(tenant)
	switch {
	case f.Source != "":
		key = sourceIndexKey(tenant, f.Source)
	case f.State != "":
		key = stateIndexKey(tenant, f.State)
	}
	out := make([]*Guest, 0, size)
	for range pageRounds {
		members, err := r.st.ZRangeAfter(ctx, key, after, size)
		if err != nil {
			return nil, "", fmt.Errorf("guests: read index %s: %w", tenant, err)
		}
		got, last, err := r.resolve(ctx, tenant, key, f, members, size-len(out))
		if err != nil {
			return nil, "", err
		}
		out = append(out, got...)
		if len(out) == size {
			return out, cursorOf(last), nil
		}
		if len(members) < size {
			return out, "", nil // the index is exhausted
		}
		after = last
	}
	return out, cursorOf(after), nil
}

// A cursor is "<created>|<id>" of the last member examined: the position
// without the address, which the page token would otherwise carry to the
// caller (and into URLs and logs). Ids are unique, so it still names one
// place in the order; a page goes on after every member that starts with
// it, which "<created>|<id>|\xff" sorts after (addresses are UTF-8, whose
// bytes are never 0xff).
func cursorOf(m string) string {
	stamp, rest, _ := strings.Cut(m, "|")
	id, _, _ := strings.Cut(rest, "|")
	return stamp + "|" + id
}

// parseCursor returns the member a page resumes after; ok is false for a
// cursor this package could not have made.
func parseCursor(c string) (after string, ok bool) {
	stamp, id, found := strings.Cut(c, "|")
	if !found || len(stamp) != 20 || id == "" || strings.Contains(id, "|") || len(c) > 256 {
		return "", false
	}
	if _, err := strconv.ParseUint(stamp, 10, 64); err != nil {
		return "", false
	}
	return c + "|\xff", true
}

// resolve reads the records of members (one pipeline) and returns those
// that the entries still describe and that pass f, at most want, with the
// last member examined (the cursor after them). Stale entries are removed.
func (r *Repo) resolve(ctx context.Context, tenant, key string, f Filter, members []string, want int) ([]*Guest, string, error) {
	ops := make([]*store.Op, len(members))
	for i, m := range members {
		_, canonical, ok := parseMember(m)
		if !ok {
			canonical = "\x00invalid" // a foreign entry: read nothing real, clean it
		}
		ops[i] = store.GetOp(r.recordKey(tenant, canonical))
	}
	if err := r.st.Pipeline(ctx, ops...); err != nil {
		return nil, "", fmt.Errorf("guests: read %s: %w", tenant, err)
	}
	var out []*Guest
	var stale []*store.Op
	last := ""
	for i, m := range members {
		last = m
		g, raw, err := decode(tenant, ops[i].Val, ops[i].Err)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, "", err
		}
		if g == nil || member(g) != m || !contains(indexKeys(tenant, g), key) {
			stale = append(stale, store.RunOp(cleanScript, []string{ops[i].Key, key}, absentFlag(raw), string(raw), m))
			continue
		}
		if !f.match(g) {
			continue
		}
		out = append(out, g)
		if len(out) == want {
			break
		}
	}
	if len(stale) > 0 {
		// Best effort: a failed clean-up leaves entries that the next
		// reader skips and cleans.
		_ = r.st.Pipeline(ctx, stale...)
	}
	return out, last, nil
}

func contains(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// unindex removes a deleted guest's entries (a reader would clean them
// too; this keeps the indexes small).
func (r *Repo) unindex(ctx context.Context, tenant string, g *Guest) error {
	m := member(g)
	for _, k := range indexKeys(tenant, g) {
		if err := r.st.ZRem(ctx, k, m); err != nil {
			return fmt.Errorf("guests: unindex %s: %w", tenant, err)
		}
	}
	return nil
}
