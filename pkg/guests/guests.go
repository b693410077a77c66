// Package guests keeps the guest records of each tenant (PRODUCT.md B2, B5):
// who was invited, how they redeemed (their sticky source) and when they last
// signed in.
//
// Layout in the store (all without TTL; guests rely on store persistence):
//
//   - store.Key(tenant, "guest", HMAC(tenant, canonical)) — the authoritative
//     record of one guest, JSON; its key name holds no address (recordKey).
//     Every change goes through CompareAndSwap on this key, so concurrent
//     sign-ins of the same address serialise on it: of N callers creating a missing guest exactly one CAS(nil → record) wins and the
//     others re-read and update that record. That is what guarantees "never
//     two guests for one address". The Store has no compare-and-swap on a
//     hash field, which is why the record is not kept in a hash.
//   - store.Key(tenant, "guest-ids") — a hash used only as an index for
//     GetByID: field = guest id, value = canonical address.
//   - store.Key(tenant, "guest-subjects") — a hash used only as an index
//     for BySubject: field = source + "|" + upstream subject, value =
//     canonical address. It finds a guest whose address changed upstream.
//
// The id hash and the list indexes are written with the record, atomically
// (writeScript, index.go): a written guest always has them. The subjects
// index is written afterwards, and deletes remove entries one by one, so
// readers treat every index as a hint: an index entry whose record is
// missing, or whose record carries another id (the guest was deleted and
// re-created), is ignored. A write that changes nothing re-asserts the
// index entries, so a subjects entry lost to a crash heals on the guest's
// next sign-in.
package guests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/guestpass/guestpass/pkg/derive"
	"github.com/guestpass/guestpass/pkg/hmacpool"
	"github.com/guestpass/guestpass/pkg/store"
)

// State is where a guest is in the invitation lifecycle.
type State string

// The two states of PRODUCT.md B5.
const (
	PendingAcceptance State = "PendingAcceptance"
	Accepted          State = "Accepted"
)

// Guest is one person from outside, per tenant.
type Guest struct {
	// ID is a random UUID (v4); it is the sub claim and survives resets.
	ID string `json:"id"`
	// Email is the stored address, where mail goes (B10: never the typed one).
	Email string `json:"email"`
	// Canonical is the canonical form of the address (the record's key).
	Canonical   string `json:"canonical"`
	DisplayName string `json:"displayName,omitempty"`
	State       State  `json:"state"`
	// Source is "" until the first redemption, then sticky (B2); its
	// values are connectors.Source's.
	Source string `json:"source,omitempty"`
	// Subject is the person's id at the source (connectors.Identity.UserID),
	// recorded on the first sign-in through a source other than the
	// passcode: a later sign-in through the source must present the same
	// one (a recycled upstream address must not take the guest over), and
	// an address change upstream finds the guest by it.
	Subject string `json:"subject,omitempty"`
	// CreatedAt is when the record was first written: the list order
	// (zero in records older than the list indexes; see created).
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// Zero when not yet.
	InvitedAt    time.Time `json:"invitedAt,omitzero"`
	RedeemedAt   time.Time `json:"redeemedAt,omitzero"`
	LastSignInAt time.Time `json:"lastSignInAt,omitzero"`
}

// Filter narrows Page.
type Filter struct {
	// Source, when not empty, keeps only guests with exactly this source.
	Source string
	// State, when not empty, keeps only guests in this state.
	State State
}

// match reports whether g passes f.
func (f Filter) match(g *Guest) bool {
	return (f.Source == "" || g.Source == f.Source) && (f.State == "" || g.State == f.State)
}

var (
	// ErrNotFound: no such guest in this tenant.
	ErrNotFound = errors.New("guests: not found")
	// ErrSourceMismatch: the guest already redeemed with another source;
	// sources are sticky and only an admin changes them (B2, B5).
	ErrSourceMismatch = errors.New("guests: guest is bound to another sign-in method")
	// ErrSubjectMismatch: the source vouches for another person than the
	// one the guest signed in as before (a recycled upstream address).
	ErrSubjectMismatch = errors.New("guests: guest is bound to another account at its source")
	// ErrAddressTaken: an address change would land on another guest's
	// address.
	ErrAddressTaken = errors.New("guests: the new address is another guest's")
)

// errInvalid is returned for arguments no caller should pass (empty tenant,
// address or source); it is a programming error, not a user error.
var errInvalid = errors.New("guests: invalid argument")

// maxCASAttempts bounds the optimistic retry loops. Every lost round means
// another writer succeeded, so the bound is only reached under pathological
// contention; it keeps a bug from spinning forever.
const maxCASAttempts = 1000

// Repo reads and writes guest records.
type Repo struct {
	st    store.Store
	names *hmacpool.Pool // HMAC states under the key naming records (addresses stay out of key names)
	clock func() time.Time
}

// NewRepo builds a Repo on st. codeKey (secrets.codeKey) keys the hash
// that names a record after its address: key names show in monitoring,
// slow logs and backups, so they carry no address. clock gives the time
// stamps (time.Now when nil).
func NewRepo(st store.Store, codeKey []byte, clock func() time.Time) *Repo {
	if clock == nil {
		clock = time.Now
	}
	return &Repo{st: st, names: hmacpool.New(derive.Key(codeKey, "guestpass/guests/record-names/v1")), clock: clock}
}

// addressID names canonical in key names: a keyed hash of the tenant and
// the address, so that neither the address nor a dictionary of addresses
// can be read from a key name.
func (r *Repo) addressID(tenant, canonical string) string {
	m := r.names.Get()
	m.WriteField(tenant)
	m.WriteField(canonical)
	return hmacpool.HexHalf(m.Sum())
}

// recordKey is where the record of canonical lives.
func (r *Repo) recordKey(tenant, canonical string) string {
	return store.Key(tenant, "guest", r.addressID(tenant, canonical))
}

func idsKey(tenant string) string      { return store.Key(tenant, "guest-ids") }
func subjectsKey(tenant string) string { return store.Key(tenant, "guest-subjects") }

// subjectField names a subject of a source in the subjects index.
func subjectField(source, subject string) string { return source + "|" + subject }

// Record is a guest as a step read it (Guest nil: no such guest), with
// the stored bytes a later compare-and-swap must find unchanged: a writer
// given a Record starts from it instead of reading the guest again.
type Record struct {
	Guest *Guest
	raw   []byte
}

// read is Get as a read of a step's batch; its Record can be handed to
// RecordSignInFrom.
func (r *Repo) read(tenant, canonical string) *store.Read[Record] {
	if tenant == "" || canonical == "" {
		return store.NewRead(nil, func(*store.Op) (Record, error) { return Record{}, nil })
	}
	return store.NewRead(store.GetOp(r.recordKey(tenant, canonical)), func(op *store.Op) (Record, error) {
		g, raw, err := decode(tenant, op.Val, op.Err)
		if errors.Is(err, ErrNotFound) {
			return Record{}, nil
		}
		return Record{Guest: g, raw: raw}, err
	})
}

func (r *Repo) now() time.Time { return r.clock().UTC() }

// load returns the record of canonical and its raw bytes (the CAS "prev").
func (r *Repo) load(ctx context.Context, tenant, canonical string) (*Guest, []byte, error) {
	raw, err := r.st.Get(ctx, r.recordKey(tenant, canonical))
	return decode(tenant, raw, err)
}

// decode reads a record as Get returned it (raw, err).
func decode(tenant string, raw []byte, err error) (*Guest, []byte, error) {
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("guests: read %s: %w", tenant, err)
	}
	var g Guest
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, nil, fmt.Errorf("guests: decode record in %s: %w", tenant, err)
	}
	return &g, raw, nil
}

// index (re)writes the hash entries of g, in one round trip; idempotent.
func (r *Repo) index(ctx context.Context, tenant string, g *Guest) error {
	ops := []*store.Op{store.HSetOp(idsKey(tenant), g.ID, []byte(g.Canonical))}
	if g.Subject != "" && g.Source != "" {
		ops = append(ops, store.HSetOp(subjectsKey(tenant), subjectField(g.Source, g.Subject), []byte(g.Canonical)))
	}
	if err := r.st.Pipeline(ctx, ops...); err != nil {
		return fmt.Errorf("guests: index %s: %w", tenant, err)
	}
	return nil
}

// update runs one optimistic read-modify-write of the record at canonical.
// mutate gets the current guest (nil when missing) and returns the new one,
// or nil to leave the record untouched (the current guest is then
// returned), or an error to stop. mutate must not call the store (Dex #5017:
// no store calls inside an updater). first, when not nil, is the record as
// the caller already read it: the first round starts from it, later rounds
// (after a lost compare-and-swap) read again.
func (r *Repo) update(ctx context.Context, tenant, canonical string, first *Record, mutate func(cur *Guest) (*Guest, error)) (*Guest, bool, error) {
	for range maxCASAttempts {
		if err := ctx.Err(); err != nil {
			return nil, false, fmt.Errorf("guests: %w", err)
		}
		var cur *Guest
		var prev []byte
		var err error
		if first != nil {
			cur, prev, first = first.Guest, first.raw, nil
		} else if cur, prev, err = r.load(ctx, tenant, canonical); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, false, err
		}
		next, err := mutate(cur)
		if err != nil {
			return cur, false, err
		}
		if next == nil {
			if cur == nil {
				return nil, false, nil
			}
			// Unchanged, but re-assert the indexes so one lost to a crash
			// between record and index writes heals here too.
			return cur, false, r.index(ctx, tenant, cur)
		}
		if next.CreatedAt.IsZero() {
			// Fixes the list position of a record older than the
			// indexes (and of a new one, whose times are now).
			next.CreatedAt = next.created()
		}
		raw, err := json.Marshal(next)
		if err != nil {
			return nil, false, fmt.Errorf("guests: encode record: %w", err)
		}
		if cur != nil && bytes.Equal(raw, prev) {
			return next, false, r.index(ctx, tenant, next)
		}
		ok, err := r.write(ctx, tenant, prev, raw, next)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			continue // another writer won this round; re-read and re-apply
		}
		// The write wrote the id hash and list indexes with the record; only the
		// subjects index is left, and only when the subject changed: a
		// returning guest's sign-in costs no index writes. (A write that
		// changes nothing still re-asserts them all above.)
		if next.Subject != "" && (cur == nil || cur.Subject != next.Subject) {
			if err := r.index(ctx, tenant, next); err != nil {
				return nil, false, err
			}
		}
		return next, true, nil
	}
	return nil, false, fmt.Errorf("guests: too much contention on one guest of %s", tenant)
}

// get returns the guest with this canonical address, or ErrNotFound.
func (r *Repo) get(ctx context.Context, tenant, canonical string) (*Guest, error) {
	if tenant == "" || canonical == "" {
		return nil, ErrNotFound
	}
	g, _, err := r.load(ctx, tenant, canonical)
	return g, err
}

// getByID returns the guest with this id, or ErrNotFound.
func (r *Repo) getByID(ctx context.Context, tenant, id string) (*Guest, error) {
	if tenant == "" || id == "" {
		return nil, ErrNotFound
	}
	canonical, err := r.st.HGet(ctx, idsKey(tenant), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("guests: read index %s: %w", tenant, err)
	}
	g, _, err := r.load(ctx, tenant, string(canonical))
	if err != nil {
		return nil, err
	}
	if g.ID != id {
		// A stale index entry: the guest was deleted and the address
		// re-created with a new id.
		return nil, ErrNotFound
	}
	return g, nil
}

// invite creates a PendingAcceptance guest for canonical, delivering mail to
// email. When the guest exists it keeps its id, state and source
// (created == false); a re-invitation only updates the display name when
// one is given (the admin's word wins) and sets InvitedAt when the guest
// had none (one who signed up or came from a directory before being
// invited).
func (r *Repo) invite(ctx context.Context, tenant, canonical, email, displayName string) (*Guest, bool, error) {
	if tenant == "" || canonical == "" || email == "" {
		return nil, false, fmt.Errorf("%w: tenant, address and email are required", errInvalid)
	}
	now := r.now()
	created := false
	g, _, err := r.update(ctx, tenant, canonical, nil, func(cur *Guest) (*Guest, error) {
		created = cur == nil // of the round that wrote
		if cur != nil {
			if (displayName == "" || displayName == cur.DisplayName) && !cur.InvitedAt.IsZero() {
				return nil, nil
			}
			next := *cur
			if displayName != "" {
				next.DisplayName = displayName
			}
			if next.InvitedAt.IsZero() {
				next.InvitedAt = now
			}
			return &next, nil
		}
		return &Guest{
			ID:          uuid.NewString(),
			Email:       email,
			Canonical:   canonical,
			DisplayName: displayName,
			State:       PendingAcceptance,
			InvitedAt:   now,
		}, nil
	})
	if err != nil {
		return nil, false, err
	}
	return g, created, nil
}

// recordSignIn records a completed sign-in of canonical through source.
//
// It creates the guest when missing (self-service sign-up, directory
// members), records source on the first redemption and refuses a different
// one afterwards with ErrSourceMismatch (the existing guest is returned with
// that error so the caller can name the bound method). It sets the state to
// Accepted, RedeemedAt on the first redemption and LastSignInAt always.
//
// An existing guest keeps its stored Email (mail goes to the stored
// address); displayName only fills an empty DisplayName, so a name the admin
// gave at invitation is not overwritten by whatever an upstream returns.
//
// first, when not nil, is the guest as the caller already read it.
func (r *Repo) recordSignIn(ctx context.Context, tenant, canonical string, first *Record, email, source, displayName, subject string) (*Guest, error) {
	if tenant == "" || canonical == "" || email == "" || source == "" {
		return nil, fmt.Errorf("%w: tenant, address, email and source are required", errInvalid)
	}
	now := r.now()
	g, _, err := r.update(ctx, tenant, canonical, first, func(cur *Guest) (*Guest, error) {
		if cur == nil {
			return &Guest{
				ID:           uuid.NewString(),
				Email:        email,
				Canonical:    canonical,
				DisplayName:  displayName,
				State:        Accepted,
				Source:       source,
				Subject:      subject,
				RedeemedAt:   now,
				LastSignInAt: now,
			}, nil
		}
		if cur.Source != "" && cur.Source != source {
			return nil, ErrSourceMismatch
		}
		if cur.Source == source && cur.Subject != "" && cur.Subject != subject {
			return nil, ErrSubjectMismatch
		}
		next := *cur
		if next.Subject == "" || next.Source == "" {
			// No source bound (never redeemed, or reset): the subject
			// of this sign-in is the one to remember, not a leftover of
			// an older source (which would lock the guest out of the
			// new one with ErrSubjectMismatch).
			next.Subject = subject
		}
		if next.Source == "" {
			next.Source = source
			next.RedeemedAt = now
		}
		if next.RedeemedAt.IsZero() {
			next.RedeemedAt = now
		}
		next.State = Accepted
		next.LastSignInAt = now
		if next.Email == "" {
			next.Email = email
		}
		if next.DisplayName == "" {
			next.DisplayName = displayName
		}
		return &next, nil
	})
	if errors.Is(err, ErrSourceMismatch) {
		return g, fmt.Errorf("%w (bound to %q)", ErrSourceMismatch, g.Source)
	}
	if errors.Is(err, ErrSubjectMismatch) {
		return g, err
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// delete removes the guest with this id. The address can then be invited
// again and gets a new id (a new sub), choosing a method afresh (B5).
func (r *Repo) delete(ctx context.Context, tenant, id string) error {
	g, err := r.getByID(ctx, tenant, id)
	if err != nil {
		return err
	}
	for range maxCASAttempts {
		cur, prev, err := r.load(ctx, tenant, g.Canonical)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		if cur.ID != id {
			// Deleted and re-created meanwhile: the guest asked for is gone,
			// and the new one must not be touched.
			break
		}
		// CAS rather than Delete so a concurrent re-creation is never removed.
		ok, err := r.st.CompareAndSwap(ctx, r.recordKey(tenant, g.Canonical), prev, nil, 0)
		if err != nil {
			return fmt.Errorf("guests: delete in %s: %w", tenant, err)
		}
		if ok {
			break
		}
	}
	if err := r.st.HDel(ctx, idsKey(tenant), id); err != nil {
		return fmt.Errorf("guests: unindex %s: %w", tenant, err)
	}
	if err := r.unindex(ctx, tenant, g); err != nil {
		return err
	}
	if err := r.unindexSubject(ctx, tenant, g); err != nil {
		return err
	}
	return nil
}

// resetRedemption clears the guest's source so the next sign-in picks a
// method afresh (B5). The id (sub) is kept; the state goes back to
// PendingAcceptance and RedeemedAt is cleared so the next sign-in counts as
// a first redemption. LastSignInAt and InvitedAt are history and are kept.
func (r *Repo) resetRedemption(ctx context.Context, tenant, id string) (*Guest, error) {
	g, err := r.getByID(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	out, _, err := r.update(ctx, tenant, g.Canonical, nil, func(cur *Guest) (*Guest, error) {
		if cur == nil || cur.ID != id {
			return nil, ErrNotFound
		}
		next := *cur
		next.Source = ""
		next.Subject = "" // belongs to the old source; the next sign-in binds anew
		next.State = PendingAcceptance
		next.RedeemedAt = time.Time{}
		return &next, nil
	})
	if err != nil {
		return nil, err
	}
	if err := r.unindexSubject(ctx, tenant, g); err != nil {
		return nil, err
	}
	return out, nil
}

// unindexSubject removes g's entry from the subjects index while it still
// names g's address: after a reset or delete the old source's subject must
// no longer find (and MoveSignIn must no longer move) this guest. An entry
// already re-pointed at another address by a newer sign-in is left alone.
func (r *Repo) unindexSubject(ctx context.Context, tenant string, g *Guest) error {
	if g.Source == "" || g.Subject == "" {
		return nil
	}
	field := subjectField(g.Source, g.Subject)
	cur, err := r.st.HGet(ctx, subjectsKey(tenant), field)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("guests: unindex subject %s: %w", tenant, err)
	case string(cur) != g.Canonical:
		return nil
	}
	if err := r.st.HDel(ctx, subjectsKey(tenant), field); err != nil {
		return fmt.Errorf("guests: unindex subject %s: %w", tenant, err)
	}
	return nil
}

// TenantRepo is the guests of one tenant: a Repo bound to it, so that no
// call lists the tenant among its other strings.
type TenantRepo struct {
	r      *Repo
	tenant string
}

// For binds the repository to tenant.
func (r *Repo) For(tenant string) *TenantRepo { return &TenantRepo{r: r, tenant: tenant} }

// AddressID names canonical in the key names of other parts that count
// per address (sign-in attempts): a keyed hash, never the address.
func (t *TenantRepo) AddressID(canonical string) string { return t.r.addressID(t.tenant, canonical) }

// Tenant is the tenant the handle is bound to.
func (t *TenantRepo) Tenant() string { return t.tenant }

// Read is Get as a read of a step's batch; its Record can be handed to
// RecordSignInFrom.
func (t *TenantRepo) Read(canonical string) *store.Read[Record] { return t.r.read(t.tenant, canonical) }

// Get returns the guest with this canonical address, or ErrNotFound.
func (t *TenantRepo) Get(ctx context.Context, canonical string) (*Guest, error) {
	return t.r.get(ctx, t.tenant, canonical)
}

// GetByID returns the guest with this id, or ErrNotFound.
func (t *TenantRepo) GetByID(ctx context.Context, id string) (*Guest, error) {
	return t.r.getByID(ctx, t.tenant, id)
}

// Invite creates a PendingAcceptance guest for canonical, delivering mail
// to email; idempotent (created == false when the guest exists).
func (t *TenantRepo) Invite(ctx context.Context, canonical, email, displayName string) (*Guest, bool, error) {
	return t.r.invite(ctx, t.tenant, canonical, email, displayName)
}

// RecordSignIn records a completed sign-in of canonical through source
// (see Repo.recordSignIn for the rules).
func (t *TenantRepo) RecordSignIn(ctx context.Context, canonical string, s SignIn) (*Guest, error) {
	return t.r.recordSignIn(ctx, t.tenant, canonical, nil, s.Email, s.Source, s.DisplayName, s.Subject)
}

// ReadSubject is the read, for a step's batch, of the address the subjects
// index names for a subject of a source ("" when none). It is a hint: the
// guest at that address must still carry the source and subject
// (MoveSignIn checks).
func (t *TenantRepo) ReadSubject(source, subject string) *store.Read[string] {
	if source == "" || subject == "" {
		return store.NewRead(nil, func(*store.Op) (string, error) { return "", nil })
	}
	return store.NewRead(store.HGetOp(subjectsKey(t.tenant), subjectField(source, subject)), func(op *store.Op) (string, error) {
		if errors.Is(op.Err, store.ErrNotFound) {
			return "", nil
		}
		if op.Err != nil {
			return "", fmt.Errorf("guests: read subjects %s: %w", t.tenant, op.Err)
		}
		return string(op.Val), nil
	})
}

// MoveSignIn records a sign-in through s.Source as s.Subject at the new
// address canonical, of the guest found at from by its subject (the
// person's address changed upstream): the guest keeps its id (its sub)
// and gets the new address. It returns ErrNotFound when the guest at from
// no longer carries that source and subject, and ErrAddressTaken when
// another guest holds canonical. The new record is written before the old
// one is removed, so a crash in between loses no guest.
func (t *TenantRepo) MoveSignIn(ctx context.Context, from, canonical string, s SignIn) (*Guest, error) {
	return t.r.move(ctx, t.tenant, from, canonical, s)
}

// RecordSignInFrom is RecordSignIn for a caller that already read the
// guest (Read) in its step's batch: an uncontended sign-in then costs one
// write and no read.
func (t *TenantRepo) RecordSignInFrom(ctx context.Context, rec Record, canonical string, s SignIn) (*Guest, error) {
	return t.r.recordSignIn(ctx, t.tenant, canonical, &rec, s.Email, s.Source, s.DisplayName, s.Subject)
}

// Delete removes the guest with this id (B5).
func (t *TenantRepo) Delete(ctx context.Context, id string) error {
	return t.r.delete(ctx, t.tenant, id)
}

// ResetRedemption clears the guest's source so the next sign-in picks a
// method afresh (B5).
func (t *TenantRepo) ResetRedemption(ctx context.Context, id string) (*Guest, error) {
	return t.r.resetRedemption(ctx, t.tenant, id)
}

// SignIn is what a completed sign-in tells about the guest: the address
// as the guest typed it (used only for a new guest), the method, a name
// from the method (only fills an empty one), and the person's id at the
// method (Subject; "" for the passcode, whose subject is the address).
type SignIn struct {
	Email, Source, DisplayName, Subject string
}

// move is MoveSignIn.
func (r *Repo) move(ctx context.Context, tenant, from, canonical string, s SignIn) (*Guest, error) {
	if tenant == "" || from == "" || canonical == "" || s.Source == "" || s.Subject == "" || s.Email == "" {
		return nil, fmt.Errorf("%w: tenant, addresses, email, source and subject are required", errInvalid)
	}
	old, prev, err := r.load(ctx, tenant, from)
	if err != nil {
		return nil, err
	}
	if old.Source != s.Source || old.Subject != s.Subject {
		return nil, ErrNotFound
	}
	now := r.now()
	next := *old
	next.Email, next.Canonical, next.State, next.LastSignInAt = s.Email, canonical, Accepted, now
	if next.DisplayName == "" {
		next.DisplayName = s.DisplayName
	}
	raw, err := json.Marshal(&next)
	if err != nil {
		return nil, fmt.Errorf("guests: encode record: %w", err)
	}
	ok, err := r.write(ctx, tenant, nil, raw, &next)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrAddressTaken
	}
	if err := r.index(ctx, tenant, &next); err != nil {
		return nil, err
	}
	// The old record goes only if it is still the one read: a guest
	// re-created there meanwhile is left alone.
	if _, err := r.st.CompareAndSwap(ctx, r.recordKey(tenant, from), prev, nil, 0); err != nil {
		return nil, fmt.Errorf("guests: remove old address in %s: %w", tenant, err)
	}
	return &next, nil
}
