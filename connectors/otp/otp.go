// Package otp is the email one-time passcode engine (PRODUCT.md B3): it
// issues 8-digit codes, keeps only an HMAC of them in the store, and
// verifies them under per-code attempt limits, a per-address failure
// budget, a resend cooldown and an hourly cap.
//
// It neither sends mail nor renders pages; callers hand the code returned
// by an issue (PendingIssue.Result) to the mailer and never log it.
//
// Keys (all tenant-scoped with store.Key, so one Redis Cluster slot per
// tenant):
//
//	{t}:otp:code:v2:<id(challenge,email)>  the code record and its attempts (TTL CodeTTL+margin)
//	{t}:otp:fail:<id(email)>               failures of an address (1 h window)
//	{t}:otp:cool:<id(email)>               resend cooldown of an address
//	{t}:otp:sent:<id(email)>               codes sent to an address (1 h window)
//	{t}:otp:dfail:<id(device,email)>       failures of a trusted browser (device cookie)
//	{t}:otp:dcool:<id(device,email)>       resend cooldown of a trusted browser
//	{t}:otp:dsent:<id(device,email)>       codes sent to a trusted browser (1 h window)
//	{t}:otp:flow:<id(flow)>                the addresses a flow was sent codes for
//	{t}:otp:ip:<id(client ip)>             codes requested from a client (1 h window)
//	{t}:otp:tenant                         codes of the tenant (1 h window)
//
// Ids are keyed hashes (HMAC under the code key), so the store never shows
// which addresses are signing in. Every limit counts an address by its
// base mailbox (user+tag@x as user@x, see limits.go): those reach one
// inbox. The code itself stays bound to the address as typed.
package otp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/guestpass/guestpass/pkg/hmacpool"
	"github.com/guestpass/guestpass/pkg/policy"
	"github.com/guestpass/guestpass/pkg/store"
)

// CodeLen is the number of digits of a code.
const CodeLen = 8

// storeMargin keeps records in the store a little longer than the code
// lives: validity is judged against the injected clock (so tests can cross
// the expiry line), not by the store's TTL.
const storeMargin = time.Minute

// window is the length of the hourly counters (codes sent, failures).
const window = time.Hour

// minKeyLen is the shortest code key accepted. Shorter keys would make the
// HMAC at rest the weak point.
const minKeyLen = 16

// Errors returned by an issue and a verification. Store failures are returned wrapped
// and stay errors.Is(err, store.ErrUnavailable); they are never one of
// these.
var (
	// ErrCooldown: a code was sent to this address too recently. The error
	// is a *CooldownError carrying the wait.
	ErrCooldown = errors.New("otp: resend cooldown")
	// ErrTooManyCodes: the hourly cap of codes for this address is reached.
	ErrTooManyCodes = errors.New("otp: too many codes requested")
	// ErrTooManyAddresses: this sign-in flow was already sent codes for
	// as many distinct addresses as the policy allows.
	ErrTooManyAddresses = errors.New("otp: too many addresses in one sign-in")
	// ErrTooManyRequests: the client's or the tenant's hourly cap of codes
	// is reached. Errors.As a *LimitError tells which.
	ErrTooManyRequests = errors.New("otp: too many codes requested from this client or tenant")
	// ErrInvalid: wrong, expired, replaced, used, voided or malformed code.
	// One error for all of them, so a page can show one message.
	ErrInvalid = errors.New("otp: invalid code")
	// ErrLocked: the address spent its failure budget; verification is
	// refused until the window ends.
	ErrLocked = errors.New("otp: too many failed attempts")
	// ErrDisabled: passcodes are off for the tenant (its policy switch);
	// nothing was issued, counted or stored.
	ErrDisabled = errors.New("otp: passcodes are disabled")
	// ErrNoKey: the issuer was built with a missing or short key.
	ErrNoKey = errors.New("otp: code key missing or shorter than 16 bytes")
)

// CooldownError is returned by an issue during the resend cooldown. It is
// errors.Is ErrCooldown.
type CooldownError struct {
	// RetryAfter is how long until a new code may be requested.
	RetryAfter time.Duration
}

func (e *CooldownError) Error() string {
	return fmt.Sprintf("otp: resend cooldown, retry after %s", e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrCooldown) true.
func (e *CooldownError) Is(target error) bool { return target == ErrCooldown }

// RetryAfter returns the wait carried by a cooldown error.
func RetryAfter(err error) (time.Duration, bool) {
	var ce *CooldownError
	if errors.As(err, &ce) {
		return ce.RetryAfter, true
	}
	return 0, false
}

// voidError is ErrInvalid for a code whose attempts are used up. Pages show
// the same message; only Outcome (metrics) tells it apart.
type voidError struct{}

func (voidError) Error() string        { return ErrInvalid.Error() }
func (voidError) Is(target error) bool { return target == ErrInvalid }

// Outcome names the result of a verification for metrics (the Verifications
// counter's outcome label): success, invalid, void, locked or error.
func Outcome(err error) string {
	var v voidError
	switch {
	case err == nil:
		return "success"
	case errors.As(err, &v):
		return "void"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	case errors.Is(err, ErrLocked):
		return "locked"
	default:
		return "error"
	}
}

// Policy is a tenant's passcode policy. Zero fields take the defaults of
// PRODUCT.md B3, except ResendCooldown: zero (or negative) means no
// cooldown.
type Policy struct {
	CodeTTL            time.Duration
	MaxAttempts        int
	ResendCooldown     time.Duration
	MaxCodesPerHour    int
	MaxFailuresPerHour int
	// The limits beyond one address (limits.go).
	MaxAddressesPerFlow      int
	MaxCodesPerIPPerHour     int
	MaxCodesPerTenantPerHour int
}

// DefaultPolicy is PRODUCT.md B3's policy, with B8's limits beyond one
// address. pkg/config fills a tenant's YAML with the same numbers
// (TestOTPPolicyDefaultsMatchConfig in provider/server keeps them equal).
func DefaultPolicy() Policy {
	return Policy{
		CodeTTL:            30 * time.Minute,
		MaxAttempts:        5,
		ResendCooldown:     60 * time.Second,
		MaxCodesPerHour:    10,
		MaxFailuresPerHour: 20,

		MaxAddressesPerFlow:      5,
		MaxCodesPerIPPerHour:     30,
		MaxCodesPerTenantPerHour: 1000,
	}
}

// WithDefaults fills p's zero fields from DefaultPolicy (ResendCooldown
// excepted, see Policy): what a caller building a Policy from its config
// gets, the same as an issue and a verification use.
func (p Policy) WithDefaults() Policy { return p.withDefaults() }

// withDefaults fills zero limits with safe defaults: a zero limit must
// never mean "unlimited guesses".
func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.CodeTTL <= 0 {
		p.CodeTTL = d.CodeTTL
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.MaxCodesPerHour <= 0 {
		p.MaxCodesPerHour = d.MaxCodesPerHour
	}
	if p.MaxFailuresPerHour <= 0 {
		p.MaxFailuresPerHour = d.MaxFailuresPerHour
	}
	return p.limitsWithDefaults(d)
}

// Issuer issues and verifies codes. It is safe for concurrent use and keeps
// no state of its own: several replicas sharing one store act as one.
type Issuer struct {
	st    store.Store
	key   []byte
	macs  *hmacpool.Pool // HMAC states under key, reused (every id and code MAC)
	clock func() time.Time
}

// NewIssuer returns an Issuer keeping records in st, with key (the decoded
// secrets.codeKey, at least 16 bytes) for the HMACs, and clock for
// validity. A nil clock means time.Now. A short key is reported by an issue
// and a verification as ErrNoKey rather than panicking here.
func NewIssuer(st store.Store, key []byte, clock func() time.Time) *Issuer {
	if clock == nil {
		clock = time.Now
	}
	key = append([]byte(nil), key...)
	return &Issuer{st: st, key: key, macs: hmacpool.New(key), clock: clock}
}

// PendingIssue is an issue prepared as one store op (a script), so that a
// caller can send it in one pipeline with reads of its own; Result tells
// what came of it once the op has run.
type PendingIssue struct {
	op   *store.Op
	code string
}

// prepareIssueFrom draws the code and builds the op that stores it: the
// tenant's passcode switch (on must be read in the same atomic step as
// the writes: nothing is counted or stored while passcodes are off), the
// cooldown, every cap (address, flow, client, tenant), then the record, in
// one script. Setting the record replaces the flow's earlier one, and
// with it that code's attempt count (it lives in the record).
func (i *Issuer) prepareIssueFrom(p Policy, o Origin, on policy.Switch, tenant, challenge, email string) (*PendingIssue, error) {
	if err := i.check(tenant, challenge, email); err != nil {
		return nil, err
	}
	if o.Flow == "" {
		return nil, errors.New("otp: the requester's flow is required")
	}
	p = p.withDefaults()
	addr := i.addrID(tenant, email)
	code, err := newCode()
	if err != nil {
		return nil, err
	}
	var r record
	r.expiresAt = i.clock().Add(p.CodeTTL)
	r.mac = i.codeMAC(tenant, challenge, email, code)
	cool := max(p.ResendCooldown, 0) // zero or less: no cooldown
	ipKey, ipCap := i.clientKey(tenant, o.ClientIP), p.MaxCodesPerIPPerHour
	if o.ClientIP == "" {
		ipCap = 0 // no client known: no limit per client
	}
	var keys [ikCount]string
	keys[ikCool], keys[ikSent] = i.addressKeys(tenant, addr, email, o.Device)
	keys[ikCode] = i.codeKey(tenant, challenge, email)
	keys[ikFlow] = i.flowKey(tenant, o.Flow)
	keys[ikIP] = ipKey
	keys[ikTenant] = store.Key(tenant, "otp", "tenant")
	keys[ikPolicy] = on.Key
	var args [iaCount]string
	args[iaCooldown] = msArg(cool)
	args[iaAddrCap] = strconv.Itoa(p.MaxCodesPerHour)
	args[iaWindow] = msArg(window)
	args[iaRecord] = string(r.marshal())
	args[iaRecordTTL] = msArg(p.CodeTTL + storeMargin)
	args[iaAddrID] = addr
	args[iaFlowCap] = strconv.Itoa(p.MaxAddressesPerFlow)
	args[iaIPCap] = strconv.Itoa(ipCap)
	args[iaTenantCap] = strconv.Itoa(p.MaxCodesPerTenantPerHour)
	args[iaPolicyField] = on.Field
	args[iaPolicyDefault] = boolArg(on.Default)
	op := store.RunOp(issueScript, keys[:], args[:]...)
	return &PendingIssue{op: op, code: code}, nil
}

// Op is the store op to run (once).
func (pi *PendingIssue) Op() *store.Op { return pi.op }

// Result is the issue's answer once Op has run: the code, or why none was
// issued (a cooldown error, ErrTooManyCodes, or the store's error).
func (pi *PendingIssue) Result() (string, error) {
	res, err := pi.op.Ints, pi.op.Err
	if err != nil {
		return "", fmt.Errorf("otp: issue: %w", err)
	}
	if len(res) != 2 {
		return "", fmt.Errorf("otp: issue: %w: %v", errScriptResult, res)
	}
	switch res[0] {
	case issued:
		return pi.code, nil
	case cooling:
		left := ms(res[1])
		if left <= 0 {
			// Due to end this very moment; asking again at once is fine,
			// but say "a moment" rather than zero.
			left = time.Second
		}
		return "", &CooldownError{RetryAfter: left}
	case capped:
		return "", ErrTooManyCodes
	case flowCapped:
		return "", ErrTooManyAddresses
	case clientCapped:
		return "", &LimitError{Scope: ScopeClient}
	case tenantCapped:
		return "", &LimitError{Scope: ScopeTenant}
	case switchedOff:
		return "", ErrDisabled
	case badSwitch:
		return "", fmt.Errorf("otp: issue: the passcode policy holds an unexpected value")
	}
	return "", fmt.Errorf("otp: issue: %w: %v", errScriptResult, res)
}

// PendingCheck is a verification prepared as one store op (the check
// script), so that a caller sends it in its step's batch; Result tells
// what came of it once the op has run.
type PendingCheck struct{ op *store.Op }

// prepareCheck builds the check of a code typed for (tenant, challenge,
// email). The code must already be normalised (spaces stripped); one that
// is not exactly 8 ASCII digits is ErrInvalid at once, with no store work.
//
// Nothing is read first: the candidate MAC depends only on what the
// caller knows, so the script finds the flow's record, judges it and
// charges the attempt in one atomic step (see checkScript). on is the
// tenant's passcode switch: while it is off the script refuses before it
// counts or consumes anything (ErrDisabled).
//
// device is the id of a browser that proved, with a device cookie, that
// it signed in as this address before ("" for none). Such a browser
// spends a failure budget of its own instead of the address's, so a
// stranger who spent the address's budget cannot lock it out (OWASP
// "device cookies"); its own failures are limited all the same. The
// caller must have checked the cookie's binding to tenant and address.
func (i *Issuer) prepareCheck(p Policy, on policy.Switch, tenant, challenge, email, code, device string) (*PendingCheck, error) {
	if err := i.check(tenant, challenge, email); err != nil {
		return nil, err
	}
	if !validCode(code) {
		return nil, ErrInvalid
	}
	p = p.withDefaults()
	var keys [ckCount]string
	keys[ckCode] = i.codeKey(tenant, challenge, email)
	keys[ckFail] = i.failKey(tenant, email, device)
	keys[ckPolicy] = on.Key
	var args [caCount]string
	mac := i.codeMAC(tenant, challenge, email, code)
	args[caMAC] = string(mac[:])
	args[caNow] = strconv.FormatInt(i.clock().UnixMilli(), 10)
	args[caMaxTries] = strconv.Itoa(p.MaxAttempts)
	args[caMaxFails] = strconv.Itoa(p.MaxFailuresPerHour)
	args[caWindow] = msArg(window)
	args[caPolicyField] = on.Field
	args[caPolicyDefault] = boolArg(on.Default)
	return &PendingCheck{op: store.RunOp(checkScript, keys[:], args[:]...)}, nil
}

// Op is the store op to run (once).
func (pc *PendingCheck) Op() *store.Op { return pc.op }

// Result is the verification's answer once Op has run. nil means success,
// and the code is consumed: of several concurrent right submissions
// exactly one gets nil.
//
// Wrong, expired, used, replaced and voided codes all give ErrInvalid;
// an address out of failure budget gets ErrLocked; passcodes switched off
// give ErrDisabled; store failures come back wrapped (errors.Is
// store.ErrUnavailable), never as ErrInvalid.
func (pc *PendingCheck) Result() error {
	res, err := pc.op.Ints, pc.op.Err
	if err != nil {
		return fmt.Errorf("otp: verify: %w", err)
	}
	if len(res) != 1 {
		return fmt.Errorf("otp: verify: %w: %v", errScriptResult, res)
	}
	switch res[0] {
	case passed:
		return nil
	case voided:
		// The record stays, its count over the limit, until it expires:
		// every later submission is refused the same way.
		return voidError{}
	case locked:
		return ErrLocked
	case guessed, absent:
		return ErrInvalid
	case switchedOff:
		return ErrDisabled
	case badSwitch:
		return fmt.Errorf("otp: verify: the passcode policy holds an unexpected value")
	default:
		return fmt.Errorf("otp: verify: %w: %v", errScriptResult, res)
	}
}

func (i *Issuer) check(tenant, challenge, email string) error {
	if len(i.key) < minKeyLen {
		return ErrNoKey
	}
	if tenant == "" || challenge == "" || email == "" {
		return errors.New("otp: tenant, challenge and email are required")
	}
	return nil
}

// validCode accepts exactly CodeLen ASCII digits: no spaces, signs or
// other scripts' digits (full-width digits are refused, PRODUCT.md B3).
func validCode(s string) bool {
	if len(s) != CodeLen {
		return false
	}
	for j := 0; j < len(s); j++ {
		if s[j] < '0' || s[j] > '9' {
			return false
		}
	}
	return true
}

var codeSpace = big.NewInt(100_000_000) // 10^CodeLen

// newCode draws a uniform code in [0, 10^8) from crypto/rand (rand.Int
// rejects out-of-range draws, so there is no modulo bias), zero-padded.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, codeSpace)
	if err != nil {
		return "", fmt.Errorf("otp: code: %w", err)
	}
	return fmt.Sprintf("%0*d", CodeLen, n.Int64()), nil
}

// sum is HMAC-SHA256 under the code key over a label and length-prefixed
// fields, so no field can be shifted into its neighbour. The states come
// from a pool (hmacpool): a sign-in computes half a dozen of these.
func (i *Issuer) sum(label string, fields ...string) [hmacpool.Size]byte {
	m := i.macs.Get()
	m.WriteField(label)
	for _, f := range fields {
		m.WriteField(f)
	}
	return m.Sum()
}

// id is the name an id takes in a key: the first half of sum, in hex.
func id(sum [hmacpool.Size]byte) string { return hmacpool.HexHalf(sum) }

// codeMAC binds the code to tenant, flow and address (PRODUCT.md B3).
// It has no per-issue nonce, so a verification computes it before reading
// anything; the challenge already makes it unique to one sign-in flow, and
// all that two equal codes drawn for one flow would show at rest is that
// they were equal, after the first was replaced.
func (i *Issuer) codeMAC(tenant, challenge, email, code string) [hmacpool.Size]byte {
	return i.sum("guestpass/otp/code/v2", tenant, challenge, email, code)
}

// codeKey is where the record of one flow of one address lives. "v2":
// records of the previous version (a per-issue nonce in their MAC, their
// attempts counted apart) live at the same name without it. This version
// never reads them: verifying them would keep that version's read, script
// and MAC for the half hour its codes live. They expire with their TTL.
// While both versions run (a rolling upgrade), each finds no record of the
// other's and answers a wrong code, never an error, charging nothing: a
// guest whose send and verify land on different versions asks for a new
// code.
func (i *Issuer) codeKey(tenant, challenge, email string) string {
	return store.Key(tenant, "otp", "code", "v2", i.flowID(tenant, challenge, email))
}

// flowID names the record of one flow of one address.
func (i *Issuer) flowID(tenant, challenge, email string) string {
	return id(i.sum("guestpass/otp/flow/v1", tenant, challenge, email))
}

// addrID names an address's counters: those of its base mailbox, so that
// plus-addresses share them.
func (i *Issuer) addrID(tenant, email string) string {
	return id(i.sum("guestpass/otp/addr/v1", tenant, baseMailbox(email)))
}

// record is what the store holds for one issued code: a version byte, the
// expiry (Unix milliseconds, exact in a Lua number) and the MAC. Binary, so
// the stored bytes never carry the code's digits. The check script appends
// the attempts made on the code (decimal; none: 0) and rewrites it.
type record struct {
	expiresAt time.Time
	mac       [32]byte
}

const recordVersion = 2
const recordLen = 1 + 8 + 32

func (r record) marshal() []byte {
	b := make([]byte, 0, recordLen)
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(r.expiresAt.UnixMilli()))
	b = append(b, r.mac[:]...)
	return b
}
