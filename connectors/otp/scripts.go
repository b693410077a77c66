package otp

import (
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
)

// The passcode's atomic steps are store scripts: one round trip each, and
// no other request can run between their reads and writes. Each is
// written twice, in Lua for Redis and in Go for the memory store; every
// test of this package runs on both. No code enters a script: a check
// passes the candidate's MAC (under the code key), which says no more
// than the record at rest does.

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

// luaSwitch is switchTwin in Lua: nil when passcodes are on, else the
// script's answer. Its script's Signature must name SWITCHED_OFF and
// BAD_SWITCH.
const luaSwitch = `
local function refusedBySwitch(key, field, dflt)
  local on = redis.call('HGET', key, field)
  if not on then on = dflt == '1' and 'on' or 'off' end
  if on == 'off' then return SWITCHED_OFF end
  if on ~= 'on' then return BAD_SWITCH end
  return nil
end
`

// addrIDLen is the length of an address id (hex of 16 bytes): the flow's
// list of addresses is their concatenation. The Lua reads it as idLen.
const addrIDLen = 32

// The issue script's keys, arguments and results, each named once: the
// constants index the Go side (PrepareIssueFrom, the twin), issueSig gives
// the Lua the same names.
const (
	ikCool   = iota // the resend cooldown (of the address, or of a trusted browser)
	ikSent          // codes sent in the hour (idem)
	ikCode          // the flow's code record
	ikFlow          // the addresses the flow was sent codes for
	ikIP            // codes requested from the client in the hour
	ikTenant        // codes of the tenant in the hour
	ikPolicy        // the tenant's policy hash (the passcode switch)
	ikCount
)

const (
	iaCooldown      = iota // ms, 0: none
	iaAddrCap              // codes per address per hour
	iaWindow               // ms
	iaRecord               // the new code record
	iaRecordTTL            // ms
	iaAddrID               // the address's id (addrIDLen)
	iaFlowCap              // distinct addresses per flow
	iaIPCap                // codes per client per hour, 0: none
	iaTenantCap            // codes per tenant per hour
	iaPolicyField          // the switch's field in ikPolicy
	iaPolicyDefault        // "1"/"0": the switch when the field is absent
	iaCount
)

// Results of issueScript (the first integer; the second is the cooldown's
// remaining milliseconds for cooling, else 0).
const (
	issued       = 0
	cooling      = 1
	capped       = 2 // the address's hourly cap
	flowCapped   = 3 // the flow's distinct addresses
	clientCapped = 4 // the client's hourly cap
	tenantCapped = 5 // the tenant's hourly cap
	switchedOff  = 6 // passcodes are off (the policy switch)
	badSwitch    = 7 // the switch holds neither "on" nor "off"
)

// The Lua names, one per constant, in the constants' order; the checks
// below fail to compile unless each table has exactly one per constant.
var (
	issueKeys = [...]string{"kCool", "kSent", "kCode", "kFlow", "kIP", "kTenant", "kPolicy"}
	issueArgs = [...]string{"cooldown", "addrCap", "window", "record", "recordTTL", "addrID",
		"flowCap", "ipCap", "tenantCap", "policyField", "policyDefault"}
)

var issueSig = store.Signature{
	Keys: issueKeys[:],
	Args: issueArgs[:],
	Results: []store.Result{{Name: "ISSUED", Value: issued}, {Name: "COOLING", Value: cooling},
		{Name: "CAPPED", Value: capped}, {Name: "FLOW_CAPPED", Value: flowCapped},
		{Name: "CLIENT_CAPPED", Value: clientCapped}, {Name: "TENANT_CAPPED", Value: tenantCapped},
		{Name: "SWITCHED_OFF", Value: switchedOff}, {Name: "BAD_SWITCH", Value: badSwitch}},
}

// issueScript: passcodes must be on (the policy field "on", or absent and
// the default on) before anything else is looked at. Every limit is
// checked before anything is counted, so a refused request costs no budget
// and sets no cooldown; then the counters, the flow's list and the record
// are written together. A refused request leaves the flow's current code
// alone. kCool and kSent are a trusted browser's own when it has a device
// cookie (Origin.Device), so a stranger cannot exhaust them; the tenant's
// cap applies to that browser all the same: it protects the tenant (its
// mail reputation and quota) against everyone together, and a stranger
// who reaches it stops every sign-in of the tenant only by sending a
// tenant's hour of codes from many clients, which the per-client cap makes
// costly.
var issueScript = store.NewScript(issueSig.Preamble()+luaIncr+luaSwitch+
	"local idLen = "+strconv.Itoa(addrIDLen)+"\n"+`
local function count(key)
  return tonumber(redis.call('GET', key) or '0')
end
local off = refusedBySwitch(kPolicy, policyField, policyDefault)
if off then return {off, 0} end
local cool, win = tonumber(cooldown), tonumber(window)
if cool > 0 and redis.call('EXISTS', kCool) == 1 then
  return {COOLING, redis.call('PTTL', kCool)}
end
if count(kSent) >= tonumber(addrCap) then
  return {CAPPED, 0}
end
local list, known = redis.call('GET', kFlow) or '', false
for j = 1, #list, idLen do
  if string.sub(list, j, j + idLen - 1) == addrID then known = true break end
end
if not known and #list / idLen >= tonumber(flowCap) then
  return {FLOW_CAPPED, 0}
end
local ipLimit = tonumber(ipCap)
if ipLimit > 0 and count(kIP) >= ipLimit then
  return {CLIENT_CAPPED, 0}
end
if count(kTenant) >= tonumber(tenantCap) then
  return {TENANT_CAPPED, 0}
end
if cool > 0 then redis.call('SET', kCool, '1', 'PX', cool) end
incr(kSent, 1, win)
if ipLimit > 0 then incr(kIP, 1, win) end
incr(kTenant, 1, win)
if not known then
  local left = redis.call('PTTL', kFlow)
  if left <= 0 then left = win end
  redis.call('SET', kFlow, list .. addrID, 'PX', left)
end
redis.call('SET', kCode, record, 'PX', tonumber(recordTTL))
return {ISSUED, 0}
`, issueTwin)

// issueTwin is issueScript in Go, for the memory store.
func issueTwin(tx store.Tx, keys, args []string) ([]int64, error) {
	answer, refused, err := switchTwin(tx, keys[ikPolicy], args[iaPolicyField], args[iaPolicyDefault])
	if err != nil {
		return nil, err
	}
	if refused {
		return []int64{answer, 0}, nil
	}
	n, err := ints(args[iaCooldown], args[iaAddrCap], args[iaWindow], args[iaRecordTTL], args[iaFlowCap], args[iaIPCap], args[iaTenantCap])
	if err != nil {
		return nil, err
	}
	cool, addrCap, win, ttl := ms(n[0]), n[1], ms(n[2]), ms(n[3])
	flowCap, ipCap, tenantCap := n[4], n[5], n[6]
	if cool > 0 {
		left, err := tx.TTL(keys[ikCool])
		if err == nil {
			return []int64{cooling, left.Milliseconds()}, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if c, err := txCount(tx, keys[ikSent]); err != nil || c >= addrCap {
		return []int64{capped, 0}, err
	}
	list, err := tx.Get(keys[ikFlow])
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	addr := args[iaAddrID]
	known := false
	for j := 0; j+addrIDLen <= len(list); j += addrIDLen {
		if string(list[j:j+addrIDLen]) == addr {
			known = true
			break
		}
	}
	if !known && int64(len(list)/addrIDLen) >= flowCap {
		return []int64{flowCapped, 0}, nil
	}
	if ipCap > 0 {
		if c, err := txCount(tx, keys[ikIP]); err != nil || c >= ipCap {
			return []int64{clientCapped, 0}, err
		}
	}
	if c, err := txCount(tx, keys[ikTenant]); err != nil || c >= tenantCap {
		return []int64{tenantCapped, 0}, err
	}
	if cool > 0 {
		if err := tx.Set(keys[ikCool], []byte{'1'}, cool); err != nil {
			return nil, err
		}
	}
	counters := []string{keys[ikSent], keys[ikTenant]}
	if ipCap > 0 {
		counters = append(counters, keys[ikIP])
	}
	for _, k := range counters {
		if _, err := tx.Incr(k, 1, win); err != nil {
			return nil, err
		}
	}
	if !known {
		left, err := tx.TTL(keys[ikFlow])
		if err != nil || left <= 0 {
			left = win
		}
		if err := tx.Set(keys[ikFlow], append(list, addr...), left); err != nil {
			return nil, err
		}
	}
	if err := tx.Set(keys[ikCode], []byte(args[iaRecord]), ttl); err != nil {
		return nil, err
	}
	return []int64{issued, 0}, nil
}

// switchTwin is luaSwitch in Go: refused when passcodes are not on, with
// the script's answer.
func switchTwin(tx store.Tx, key, field, dflt string) (answer int64, refused bool, err error) {
	v, err := tx.HGet(key, field)
	switch {
	case errors.Is(err, store.ErrNotFound):
		v = []byte("off")
		if dflt == "1" {
			v = []byte("on")
		}
	case err != nil:
		return 0, true, err
	}
	switch string(v) {
	case "on":
		return 0, false, nil
	case "off":
		return switchedOff, true, nil
	}
	return badSwitch, true, nil
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

// The check script's keys, arguments and results (see issueSig).
const (
	ckCode   = iota // the flow's code record, with its attempts
	ckFail          // the failure budget (of the address, or of a trusted browser)
	ckPolicy        // the tenant's policy hash (the passcode switch)
	ckCount
)

const (
	caMAC           = iota // the candidate's MAC (codeMAC of the typed code)
	caNow                  // Unix ms: the injected clock judges expiry
	caMaxTries             // attempts per code
	caMaxFails             // failures per hour
	caWindow               // ms
	caPolicyField          // the switch's field in ckPolicy
	caPolicyDefault        // "1"/"0": the switch when the field is absent
	caCount
)

// Results of checkScript; switchedOff and badSwitch are the issue
// script's.
const (
	passed  = 0 // a right code within every limit, and consumed
	voided  = 1 // the code's attempts are used up
	locked  = 2 // the failure budget is spent
	guessed = 3 // a wrong code, counted
	absent  = 4 // no live record of this version: nothing to guess, nothing counted
)

var (
	checkKeys = [...]string{"kCode", "kFail", "kPolicy"}
	checkArgs = [...]string{"mac", "now", "maxTries", "maxFails", "window", "policyField", "policyDefault"}
)

// One name per constant: a negative array length does not compile.
var (
	_ [len(issueKeys) - ikCount]struct{}
	_ [ikCount - len(issueKeys)]struct{}
	_ [len(issueArgs) - iaCount]struct{}
	_ [iaCount - len(issueArgs)]struct{}
	_ [len(checkKeys) - ckCount]struct{}
	_ [ckCount - len(checkKeys)]struct{}
	_ [len(checkArgs) - caCount]struct{}
	_ [caCount - len(checkArgs)]struct{}
)

var checkSig = store.Signature{
	Keys: checkKeys[:],
	Args: checkArgs[:],
	Results: []store.Result{{Name: "PASSED", Value: passed}, {Name: "VOIDED", Value: voided},
		{Name: "LOCKED", Value: locked}, {Name: "GUESSED", Value: guessed}, {Name: "ABSENT", Value: absent},
		{Name: "SWITCHED_OFF", Value: switchedOff}, {Name: "BAD_SWITCH", Value: badSwitch}},
}

// checkScript is a whole verification in one atomic step, so it needs no
// read before it and two submissions can never both see one record:
//
//   - passcodes must be on, as for an issue: while they are off nothing
//     is counted or consumed;
//   - no record of this version, or one expired by the caller's clock:
//     such a code can never succeed, so the answer is that of a wrong
//     code and no attempt is charged;
//   - the attempt is charged on the record before anything is compared
//     (PRODUCT.md B3): past the code's limit it is void, and the first
//     attempt past it charges the failure budget once;
//   - then the failure budget: past it the address is locked;
//   - then the comparison. Lua compares strings byte by byte and stops at
//     the first difference, so it compares the SHA-1 of the two MACs
//     instead: where that stops tells nothing about the stored MAC (B3:
//     "compared in constant time"). A right code gets its charge on the
//     budget back at once (a success never uses it up, nor locks out
//     others' guesses in passing) and consumes the record.
//
// The record is rewritten with its count (KEEPTTL), so a resend, which
// replaces the record, starts a new count, and every key is in KEYS.
var checkScript = store.NewScript(checkSig.Preamble()+luaIncr+luaSwitch+
	"local recLen, version = "+strconv.Itoa(recordLen)+", "+strconv.Itoa(recordVersion)+"\n"+`
local off = refusedBySwitch(kPolicy, policyField, policyDefault)
if off then return {off} end
local rec = redis.call('GET', kCode)
if not rec or #rec < recLen or string.byte(rec, 1) ~= version then return {ABSENT} end
local expires = 0
for j = 2, 9 do expires = expires * 256 + string.byte(rec, j) end
if expires <= tonumber(now) then return {ABSENT} end
local limit, win = tonumber(maxTries), tonumber(window)
-- The attempts follow the record's fixed part; a count that is not a
-- number is an error, as in checkTwin, never zero attempts.
local tries = 0
if #rec > recLen then
  tries = tonumber(string.sub(rec, recLen + 1))
  if not tries then return redis.error_reply('attempts of a code record: not a number') end
end
if tries > limit then return {VOIDED} end
tries = tries + 1
redis.call('SET', kCode, string.sub(rec, 1, recLen) .. tries, 'KEEPTTL')
if tries > limit then
  incr(kFail, 1, win)
  return {VOIDED}
end
if incr(kFail, 1, win) > tonumber(maxFails) then
  return {LOCKED}
end
if redis.sha1hex(string.sub(rec, 10, recLen)) == redis.sha1hex(mac) then
  incr(kFail, -1, win)
  redis.call('DEL', kCode)
  return {PASSED}
end
return {GUESSED}
`, checkTwin)

// checkTwin is checkScript in Go, for the memory store; it compares with
// hmac.Equal (constant time).
func checkTwin(tx store.Tx, keys, args []string) ([]int64, error) {
	answer, refused, err := switchTwin(tx, keys[ckPolicy], args[caPolicyField], args[caPolicyDefault])
	if err != nil {
		return nil, err
	}
	if refused {
		return []int64{answer}, nil
	}
	n, err := ints(args[caNow], args[caMaxTries], args[caMaxFails], args[caWindow])
	if err != nil {
		return nil, err
	}
	now, maxTries, maxFails, win := n[0], n[1], n[2], ms(n[3])
	rec, err := tx.Get(keys[ckCode])
	switch {
	case errors.Is(err, store.ErrNotFound):
		return []int64{absent}, nil
	case err != nil:
		return nil, err
	case len(rec) < recordLen || rec[0] != recordVersion || int64(binary.BigEndian.Uint64(rec[1:9])) <= now:
		return []int64{absent}, nil
	}
	var tries int64
	if len(rec) > recordLen {
		if tries, err = strconv.ParseInt(string(rec[recordLen:]), 10, 64); err != nil {
			return nil, fmt.Errorf("attempts of a code record: %w", err)
		}
	}
	if tries > maxTries {
		return []int64{voided}, nil
	}
	tries++
	left, err := tx.TTL(keys[ckCode])
	if err != nil {
		return nil, err
	}
	counted := strconv.AppendInt(append([]byte(nil), rec[:recordLen]...), tries, 10)
	if err := tx.Set(keys[ckCode], counted, left); err != nil {
		return nil, err
	}
	if tries > maxTries {
		if _, err := tx.Incr(keys[ckFail], 1, win); err != nil {
			return nil, err
		}
		return []int64{voided}, nil
	}
	fails, err := tx.Incr(keys[ckFail], 1, win)
	if err != nil {
		return nil, err
	}
	if fails > maxFails {
		return []int64{locked}, nil
	}
	if !hmac.Equal(rec[1+8:recordLen], []byte(args[caMAC])) {
		return []int64{guessed}, nil
	}
	if _, err := tx.Incr(keys[ckFail], -1, win); err != nil {
		return nil, err
	}
	if err := tx.Delete(keys[ckCode]); err != nil {
		return nil, err
	}
	return []int64{passed}, nil
}

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
