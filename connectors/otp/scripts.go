package otp

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
)

// The passcode's atomic steps are store scripts: one round trip each, and
// no other request can run between their reads and writes. Each is
// written twice, in Lua for Redis and in Go for the memory store; every
// test of this package runs on both. No secret enters a script: the code
// is compared in Go (constant time) and only the verdict is passed in.

// luaIncr is Store.Incr in Lua: the window starts when the counter is
// created, later increments leave its expiry alone.
const luaIncr = `
local function incr(key, delta, ttl)
  local existed = redis.call('EXISTS', key)
  local v = redis.call('INCRBY', key, delta)
  if existed == 0 and ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  return v
end
`

// Results of issueScript.
const (
	issued       = 0
	cooling      = 1 // second value: the cooldown's remaining milliseconds
	capped       = 2 // the address's hourly cap
	flowCapped   = 3 // the flow's distinct addresses
	clientCapped = 4 // the client's hourly cap
	tenantCapped = 5 // the tenant's hourly cap
	switchedOff  = 6 // passcodes are off (the policy switch)
	badSwitch    = 7 // the switch holds neither "on" nor "off"
)

// addrIDLen is the length of an address id (hex of 16 bytes): the flow's
// list of addresses is their concatenation.
const addrIDLen = 32

// issueScript: KEYS cool, sent, code, flow, ip, tenant, policy; ARGV
// cooldown (ms, 0: none), address cap, window (ms), record, record ttl
// (ms), address id, flow cap, client cap (0: none), tenant cap, policy
// field, policy default ("1"/"0"). Passcodes must be on (the policy
// hash's field "on", or absent and the default on) before anything else
// is looked at. Every limit is checked
// before anything is counted, so a refused request costs no budget and
// sets no cooldown; then the counters, the flow's list and the record are
// written together. A refused request leaves the flow's current code alone.
// KEYS cool and sent are a trusted browser's own when it has a device
// cookie (Origin.Device), so a stranger cannot exhaust them; the tenant's
// cap applies to that browser all the same: it protects the tenant (its
// mail reputation and quota) against everyone together, and a stranger
// who reaches it stops every sign-in of the tenant only by sending a
// tenant's hour of codes from many clients, which the per-client cap makes
// costly.
var issueScript = store.NewScript(luaIncr+`
local function count(key)
  return tonumber(redis.call('GET', key) or '0')
end
local on = redis.call('HGET', KEYS[7], ARGV[10])
if not on then on = ARGV[11] == '1' and 'on' or 'off' end
if on == 'off' then return {6, 0} end
if on ~= 'on' then return {7, 0} end
local cool, win = tonumber(ARGV[1]), tonumber(ARGV[3])
if cool > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  return {1, redis.call('PTTL', KEYS[1])}
end
if count(KEYS[2]) >= tonumber(ARGV[2]) then
  return {2, 0}
end
local list, known = redis.call('GET', KEYS[4]) or '', false
for j = 1, #list, 32 do
  if string.sub(list, j, j + 31) == ARGV[6] then known = true break end
end
if not known and #list / 32 >= tonumber(ARGV[7]) then
  return {3, 0}
end
local ipCap = tonumber(ARGV[8])
if ipCap > 0 and count(KEYS[5]) >= ipCap then
  return {4, 0}
end
if count(KEYS[6]) >= tonumber(ARGV[9]) then
  return {5, 0}
end
if cool > 0 then redis.call('SET', KEYS[1], '1', 'PX', cool) end
incr(KEYS[2], 1, win)
if ipCap > 0 then incr(KEYS[5], 1, win) end
incr(KEYS[6], 1, win)
if not known then
  local left = redis.call('PTTL', KEYS[4])
  if left <= 0 then left = win end
  redis.call('SET', KEYS[4], list .. ARGV[6], 'PX', left)
end
redis.call('SET', KEYS[3], ARGV[4], 'PX', tonumber(ARGV[5]))
return {0, 0}
`, issueTwin)

// issueTwin is issueScript in Go, for the memory store.
func issueTwin(tx store.Tx, keys, args []string) ([]int64, error) {
	n, err := ints(args[0], args[1], args[2], args[4], args[6], args[7], args[8])
	if err != nil {
		return nil, err
	}
	cool, addrCap, win, ttl := ms(n[0]), n[1], ms(n[2]), ms(n[3])
	flowCap, ipCap, tenantCap := n[4], n[5], n[6]
	if res, err := switchTwin(tx, keys[6], args[9], args[10]); res != nil || err != nil {
		return res, err
	}
	if cool > 0 {
		left, err := tx.TTL(keys[0])
		if err == nil {
			return []int64{cooling, left.Milliseconds()}, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if c, err := txCount(tx, keys[1]); err != nil || c >= addrCap {
		return []int64{capped, 0}, err
	}
	list, err := tx.Get(keys[3])
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	known := false
	for j := 0; j+addrIDLen <= len(list); j += addrIDLen {
		if string(list[j:j+addrIDLen]) == args[5] {
			known = true
			break
		}
	}
	if !known && int64(len(list)/addrIDLen) >= flowCap {
		return []int64{flowCapped, 0}, nil
	}
	if ipCap > 0 {
		if c, err := txCount(tx, keys[4]); err != nil || c >= ipCap {
			return []int64{clientCapped, 0}, err
		}
	}
	if c, err := txCount(tx, keys[5]); err != nil || c >= tenantCap {
		return []int64{tenantCapped, 0}, err
	}
	if cool > 0 {
		if err := tx.Set(keys[0], []byte{'1'}, cool); err != nil {
			return nil, err
		}
	}
	counters := []string{keys[1], keys[5]}
	if ipCap > 0 {
		counters = append(counters, keys[4])
	}
	for _, k := range counters {
		if _, err := tx.Incr(k, 1, win); err != nil {
			return nil, err
		}
	}
	if !known {
		left, err := tx.TTL(keys[3])
		if err != nil || left <= 0 {
			left = win
		}
		if err := tx.Set(keys[3], append(list, args[5]...), left); err != nil {
			return nil, err
		}
	}
	if err := tx.Set(keys[2], []byte(args[3]), ttl); err != nil {
		return nil, err
	}
	return []int64{issued, 0}, nil
}

// switchTwin is the issue script's policy check: nil when passcodes are
// on, else the script's answer.
func switchTwin(tx store.Tx, key, field, dflt string) ([]int64, error) {
	v, err := tx.HGet(key, field)
	switch {
	case errors.Is(err, store.ErrNotFound):
		v = []byte("off")
		if dflt == "1" {
			v = []byte("on")
		}
	case err != nil:
		return nil, err
	}
	switch string(v) {
	case "on":
		return nil, nil
	case "off":
		return []int64{switchedOff, 0}, nil
	}
	return []int64{badSwitch, 0}, nil
}

// boolArg renders a flag for a script.
func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// txCount reads a counter; absent is 0.
func txCount(tx store.Tx, key string) (int64, error) {
	b, err := tx.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(string(b), 10, 64)
}

// Results of checkScript.
const (
	passed  = 0 // a right code within every limit, and consumed
	voided  = 1
	locked  = 2
	guessed = 3 // a wrong code, counted
	lost    = 4 // a right code, but the record changed or went first
)

// checkScript: KEYS try, fail, code; ARGV max attempts, try ttl (ms), max
// failures, window (ms), right ("1"/"0"), the record as read. It counts
// the attempt on the issued code, then charges the address's failure
// budget, before the verdict counts; a right code gets its charge back at
// once, so it never uses up the budget and never locks out others'
// guesses in passing, and consumes the record only if it is still exactly
// the one that was checked: of many right submissions one wins, and a
// code replaced meanwhile (a resend) is never consumed by the old one.
var checkScript = store.NewScript(luaIncr+`
local maxTries = tonumber(ARGV[1])
local tries = incr(KEYS[1], 1, tonumber(ARGV[2]))
if tries > maxTries then
  if tries == maxTries + 1 then incr(KEYS[2], 1, tonumber(ARGV[4])) end
  return {1}
end
if incr(KEYS[2], 1, tonumber(ARGV[4])) > tonumber(ARGV[3]) then
  return {2}
end
if ARGV[5] == '1' then
  incr(KEYS[2], -1, tonumber(ARGV[4]))
  if redis.call('GET', KEYS[3]) == ARGV[6] then
    redis.call('DEL', KEYS[3])
    return {0}
  end
  return {4}
end
return {3}
`, func(tx store.Tx, keys, args []string) ([]int64, error) {
	n, err := ints(args[0], args[1], args[2], args[3])
	if err != nil {
		return nil, err
	}
	maxTries, tryTTL, maxFails, win := n[0], ms(n[1]), n[2], ms(n[3])
	tries, err := tx.Incr(keys[0], 1, tryTTL)
	if err != nil {
		return nil, err
	}
	if tries > maxTries {
		if tries == maxTries+1 {
			if _, err := tx.Incr(keys[1], 1, win); err != nil {
				return nil, err
			}
		}
		return []int64{voided}, nil
	}
	fails, err := tx.Incr(keys[1], 1, win)
	if err != nil {
		return nil, err
	}
	if fails > maxFails {
		return []int64{locked}, nil
	}
	if args[4] == "1" {
		if _, err := tx.Incr(keys[1], -1, win); err != nil {
			return nil, err
		}
		cur, err := tx.Get(keys[2])
		if errors.Is(err, store.ErrNotFound) {
			return []int64{lost}, nil
		}
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(cur, []byte(args[5])) {
			return []int64{lost}, nil
		}
		if err := tx.Delete(keys[2]); err != nil {
			return nil, err
		}
		return []int64{passed}, nil
	}
	return []int64{guessed}, nil
})

func ints(ss ...string) ([]int64, error) {
	out := make([]int64, len(ss))
	for i, s := range ss {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// msArg renders d as whole milliseconds for a script, rounding up so that
// a sub-millisecond duration never turns into "no expiry".
func msArg(d time.Duration) string {
	m := d.Milliseconds()
	if d%time.Millisecond != 0 {
		m++
	}
	return strconv.FormatInt(m, 10)
}

var errScriptResult = errors.New("otp: unexpected script result")
