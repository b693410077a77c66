package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
)

// The outbox keeps every mail not yet handed over in a store.Store (Redis
// in production), so that a mail survives a crash and any replica may send
// it. Per tenant (keys tagged {tenant}, one Cluster slot per script):
//
//	{t}:outbox:q       ordered set "<due ns, 20 digits>|<id>": the queue,
//	                   in the order mails are due (retries later)
//	{t}:outbox:m:<id>  the mail (JSON), expiring with it
//	{t}:outbox:l:<id>  the lease of the replica sending it (SET NX PX)
//
// and one key listing the tenants with mail (outboxTenants). Key names
// hold a random id only: no address, no code. The mail's body is in the
// value (it is the mail), kept no longer than the mail is useful.
const outboxTenants = "outbox:tenants"

// scanLimit is how many queue heads one claim reads.
const scanLimit = 8

func queueKey(tenant string) string          { return store.Key(tenant, "outbox", "q") }
func bodyKey(tenant, id string) string       { return store.Key(tenant, "outbox", "m", id) }
func leaseKey(tenant, id string) string      { return store.Key(tenant, "outbox", "l", id) }
func member(due time.Time, id string) string { return store.TimeMember(due, id) }

// parseMember splits a queue entry; ok is false for anything else.
func parseMember(m string) (due time.Time, id string, ok bool) {
	stamp, id, ok := strings.Cut(m, "|")
	n, err := strconv.ParseInt(stamp, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", false
	}
	return time.Unix(0, n), id, true
}

// record is a queued mail as stored.
type record struct {
	Message  Message `json:"m"`
	Due      int64   `json:"d"` // unix ns: not before (the queue entry mirrors it)
	Expires  int64   `json:"e"` // unix ns: useless after (the code or link expired)
	Enqueued int64   `json:"q"`
	Tries    int     `json:"t"`
}

// claimed is a mail this replica holds the lease of.
type claimed struct {
	tenant, id, member string
	rec                record
}

// retryScript: KEYS queue, body, lease; ARGV member, body, ttl ms, old
// member. Stores the mail, requeues it under member and frees the lease,
// atomically: a retry is rescheduled or the mail is left as it was.
var retryScript = store.NewScript(`
if ARGV[4] ~= '' then redis.call('ZREM', KEYS[1], ARGV[4]) end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('DEL', KEYS[3])
return {1}
`, func(tx store.Tx, keys, args []string) ([]int64, error) {
	if args[3] != "" {
		if err := tx.ZRem(keys[0], args[3]); err != nil {
			return nil, err
		}
	}
	ms, err := strconv.ParseInt(args[2], 10, 64)
	if err != nil {
		return nil, err
	}
	if err := tx.Set(keys[1], []byte(args[1]), time.Duration(ms)*time.Millisecond); err != nil {
		return nil, err
	}
	if err := tx.ZAdd(keys[0], args[0]); err != nil {
		return nil, err
	}
	return []int64{1}, tx.Delete(keys[2])
})

// outbox is the durable queue over a store.
type outbox struct {
	st    store.Store
	lease time.Duration
}

// newID is "<enqueue time, hex ns>.<random>": the queue's entries tell
// the age of their mails (the oldest-age gauge) without reading them.
func newID(now time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatInt(now.UnixNano(), 16) + "." + hex.EncodeToString(b[:])
}

// enqueuedAt reads the time back from an id (zero if it has none).
func enqueuedAt(id string) time.Time {
	stamp, _, _ := strings.Cut(id, ".")
	n, err := strconv.ParseInt(stamp, 16, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// ttl keeps a stored mail a little past its expiry (so that a replica
// sees it expired and counts the drop), never longer.
func storeTTL(now time.Time, rec record) time.Duration {
	return max(time.Unix(0, rec.Expires).Sub(now), 0) + time.Minute
}

// encodeRecord is rec's JSON without encoding/json's HTML escaping: a
// mail's HTML part is full of <, > and &, which json.Marshal writes as
// six-byte escapes, half the cost of encoding the record and a sixth of
// its size. Any JSON decoder, this version's or an older one's, reads
// the same values either way.
func encodeRecord(rec record) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(rec.Message.HTML) + len(rec.Message.Text) + len(rec.Message.Subject) + 256)
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return nil, fmt.Errorf("mail: outbox: encode: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// put queues a new mail and lists its tenant, in one round trip. leased:
// this replica sends it at once, so it holds the lease already and the
// queue entry is due only when the lease runs out (another replica sends
// it then, if this one never recorded an outcome); the claimed mail is
// returned for delivery. Otherwise the mail is due now, for the poller;
// nil is returned.
func (o *outbox) put(ctx context.Context, now time.Time, m Message, valid time.Duration, leased bool) (*claimed, error) {
	rec := record{Message: m, Due: now.UnixNano(), Expires: now.Add(valid).UnixNano(), Enqueued: now.UnixNano()}
	c := &claimed{tenant: m.Tenant, id: newID(now)}
	token := ""
	if leased {
		token = newID(now)
		rec.Due = now.Add(o.lease).UnixNano()
	}
	c.rec = rec
	c.member = member(time.Unix(0, rec.Due), c.id)
	raw, err := encodeRecord(rec)
	if err != nil {
		return nil, err
	}
	// Plain writes, no script (a script costs Redis several times these
	// commands): a new mail replaces nothing, and one connection's
	// commands on one tenant's keys (one slot) land in order, so no
	// replica ever finds the queue entry before the mail, or a leased
	// mail's entry before its lease (and that entry is due only when the
	// lease has run out).
	ops := []*store.Op{store.SetOp(bodyKey(c.tenant, c.id), raw, storeTTL(now, rec))}
	if leased {
		ops = append(ops, store.SetOp(leaseKey(c.tenant, c.id), []byte(token), o.lease))
	}
	ops = append(ops, store.ZAddOp(queueKey(c.tenant), c.member), store.ZAddOp(outboxTenants, m.Tenant))
	if err := o.st.Pipeline(ctx, ops...); err != nil {
		return nil, fmt.Errorf("mail: outbox: put: %w", err)
	}
	if !leased {
		return nil, nil
	}
	return c, nil
}

// retry requeues c at due with one more try, and frees its lease, in
// one script (the entry moves: it must not be lost half way).
func (o *outbox) retry(ctx context.Context, now time.Time, c *claimed, due time.Time) error {
	c.rec.Due = due.UnixNano()
	raw, err := encodeRecord(c.rec)
	if err != nil {
		return err
	}
	ms := strconv.FormatInt(storeTTL(now, c.rec).Milliseconds(), 10)
	keys := []string{queueKey(c.tenant), bodyKey(c.tenant, c.id), leaseKey(c.tenant, c.id)}
	if _, err := o.st.Run(ctx, retryScript, keys, member(due, c.id), string(raw), ms, c.member); err != nil {
		return fmt.Errorf("mail: outbox: retry: %w", err)
	}
	return nil
}

// done forgets cs, in one round trip (a Redis Cluster client splits it
// per node: each tenant's keys are in one slot).
func (o *outbox) done(ctx context.Context, cs ...*claimed) error {
	// No script: whichever of the three goes first, a replica that sees
	// what is left drops it (an entry without its mail is dropped, a
	// mail without its entry expires).
	ops := make([]*store.Op, 0, 3*len(cs))
	for _, c := range cs {
		ops = append(ops, store.ZRemOp(queueKey(c.tenant), c.member),
			store.DeleteOp(bodyKey(c.tenant, c.id)), store.DeleteOp(leaseKey(c.tenant, c.id)))
	}
	if err := o.st.Pipeline(ctx, ops...); err != nil {
		return fmt.Errorf("mail: outbox: done: %w", err)
	}
	return nil
}

// tenants lists the tenants that may have mail.
func (o *outbox) tenants(ctx context.Context) ([]string, error) {
	var out []string
	after := ""
	for {
		page, err := o.st.ZRangeAfter(ctx, outboxTenants, after, 500)
		if err != nil {
			return nil, fmt.Errorf("mail: outbox: tenants: %w", err)
		}
		out = append(out, page...)
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1]
	}
}

// depth is a tenant's queue length, retries waiting included.
func (o *outbox) depth(ctx context.Context, tenant string) (int64, error) {
	n, err := o.st.ZCard(ctx, queueKey(tenant))
	if err != nil {
		return 0, fmt.Errorf("mail: outbox: depth: %w", err)
	}
	return n, nil
}

// scan is what a claim saw of a tenant's queue.
type scan struct {
	depth  int64     // queue length (exact when under scanLimit, else ZCard)
	next   time.Time // the earliest mail not yet due (zero: none seen)
	oldest time.Time // the earliest enqueue time among the mails read
}

// claim takes the lease of the tenant's first due mail, if any. The lease
// (SET NX with a TTL longer than a send may take) is what keeps two
// replicas from sending one mail at once; a crashed replica's lease runs
// out and the mail is due again for everyone.
func (o *outbox) claim(ctx context.Context, now time.Time, tenant string) (*claimed, scan, error) {
	var sc scan
	members, err := o.st.ZRangeAfter(ctx, queueKey(tenant), "", scanLimit)
	if err != nil {
		return nil, sc, fmt.Errorf("mail: outbox: read queue: %w", err)
	}
	sc.depth = int64(len(members))
	if len(members) == 0 {
		return nil, sc, o.unlist(ctx, tenant)
	}
	if len(members) == scanLimit {
		if sc.depth, err = o.depth(ctx, tenant); err != nil {
			return nil, sc, err
		}
	}
	for _, m := range members {
		if _, id, ok := parseMember(m); ok {
			if at := enqueuedAt(id); !at.IsZero() && (sc.oldest.IsZero() || at.Before(sc.oldest)) {
				sc.oldest = at
			}
		}
	}
	token := newID(now)
	for _, m := range members {
		due, id, ok := parseMember(m)
		if !ok {
			_ = o.st.ZRem(ctx, queueKey(tenant), m) // not ours: never block the queue
			continue
		}
		if due.After(now) {
			sc.next = due
			break
		}
		c, err := o.take(ctx, now, tenant, id, m, token)
		if err != nil || c != nil {
			return c, sc, err
		}
	}
	return nil, sc, nil
}

// take tries the lease of one mail and reads it, in one round trip.
func (o *outbox) take(ctx context.Context, now time.Time, tenant, id, m, token string) (*claimed, error) {
	lease := store.SetNXOp(leaseKey(tenant, id), []byte(token), o.lease)
	body := store.GetOp(bodyKey(tenant, id))
	if err := o.st.Pipeline(ctx, lease, body); err != nil {
		return nil, fmt.Errorf("mail: outbox: claim: %w", err)
	}
	if !lease.OK {
		return nil, nil // another replica sends it
	}
	c := &claimed{tenant: tenant, id: id, member: m}
	if errors.Is(body.Err, store.ErrNotFound) {
		// Sent meanwhile by another replica, or expired: drop the entry.
		return nil, o.done(ctx, c)
	}
	if err := json.Unmarshal(body.Val, &c.rec); err != nil {
		return nil, o.done(ctx, c)
	}
	if time.Unix(0, c.rec.Due).After(now) {
		// A stale entry: the mail was rescheduled under another one.
		return nil, o.st.Delete(ctx, leaseKey(tenant, id))
	}
	return c, nil
}

// unlist drops a tenant whose queue looked empty from the list, then
// looks again: a mail queued in between lists the tenant back.
func (o *outbox) unlist(ctx context.Context, tenant string) error {
	if err := o.st.ZRem(ctx, outboxTenants, tenant); err != nil {
		return fmt.Errorf("mail: outbox: unlist: %w", err)
	}
	n, err := o.depth(ctx, tenant)
	if err != nil || n == 0 {
		return err
	}
	return o.st.ZAdd(ctx, outboxTenants, tenant)
}
