package store

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// OpKind names the Store method an Op stands for.
type OpKind int

// The op kinds; each means exactly what the Store method of the same name
// means. Only the kinds some step batches exist (Take and TTL run alone,
// or inside a script).
const (
	OpGet OpKind = iota + 1
	OpSet
	OpSetNX
	OpDelete
	OpCompareAndSwap
	OpHGet
	OpHSet
	OpRun // Run(Script, Keys, Args): a script, atomic on its own
	OpZAdd
	OpZRem
	OpIncr
	OpExtend
	OpSwap
)

// Op is one operation of a Pipeline. Build it with the constructors below
// and read its results once Pipeline has returned.
type Op struct {
	Kind  OpKind
	Key   string
	Field string        // HGet, HSet; ZAdd, ZRem: the member
	Value []byte        // Set, SetNX, HSet; CompareAndSwap, Swap: next
	Prev  []byte        // CompareAndSwap
	TTL   time.Duration // Set, SetNX, CompareAndSwap, Incr, Extend
	Delta int64         // Incr
	// Run
	Script *Script
	Keys   []string
	Args   []string

	// Results.
	Val  []byte  // Get, HGet; Swap: the value replaced
	OK   bool    // SetNX, CompareAndSwap, Extend
	N    int64   // Incr
	Ints []int64 // Run
	Err  error
}

// GetOp is Get(key) as an Op.
func GetOp(key string) *Op { return &Op{Kind: OpGet, Key: key} }

// SetOp is Set(key, value, ttl) as an Op.
func SetOp(key string, value []byte, ttl time.Duration) *Op {
	return &Op{Kind: OpSet, Key: key, Value: value, TTL: ttl}
}

// SetNXOp is SetNX(key, value, ttl) as an Op.
func SetNXOp(key string, value []byte, ttl time.Duration) *Op {
	return &Op{Kind: OpSetNX, Key: key, Value: value, TTL: ttl}
}

// DeleteOp is Delete(key) as an Op.
func DeleteOp(key string) *Op { return &Op{Kind: OpDelete, Key: key} }

// CompareAndSwapOp is CompareAndSwap(key, prev, next, ttl) as an Op.
func CompareAndSwapOp(key string, prev, next []byte, ttl time.Duration) *Op {
	return &Op{Kind: OpCompareAndSwap, Key: key, Prev: prev, Value: next, TTL: ttl}
}

// SwapOp is Swap(key, next) as an Op: the value replaced is in Val.
func SwapOp(key string, next []byte) *Op { return &Op{Kind: OpSwap, Key: key, Value: next} }

// HGetOp is HGet(key, field) as an Op.
func HGetOp(key, field string) *Op { return &Op{Kind: OpHGet, Key: key, Field: field} }

// HSetOp is HSet(key, field, value) as an Op.
func HSetOp(key, field string, value []byte) *Op {
	return &Op{Kind: OpHSet, Key: key, Field: field, Value: value}
}

// RunOp is Run(script, keys, args...) as an Op.
func RunOp(script *Script, keys []string, args ...string) *Op {
	return &Op{Kind: OpRun, Script: script, Keys: keys, Args: args}
}

// ZAddOp is ZAdd(key, member) as an Op: a write that lists something in
// a set kept in another slot than the rest of its batch.
func ZAddOp(key, member string) *Op { return &Op{Kind: OpZAdd, Key: key, Field: member} }

// ZRemOp is ZRem(key, member) as an Op.
func ZRemOp(key, member string) *Op { return &Op{Kind: OpZRem, Key: key, Field: member} }

// IncrOp is Incr(key, delta, ttl) as an Op: the new count is in N.
// Counting in a batch needs no script: a fixed window is native to Redis.
func IncrOp(key string, delta int64, ttl time.Duration) *Op {
	return &Op{Kind: OpIncr, Key: key, Delta: delta, TTL: ttl}
}

// ExtendOp is Extend(key, ttl) as an Op: OK tells whether it lengthened.
func ExtendOp(key string, ttl time.Duration) *Op { return &Op{Kind: OpExtend, Key: key, TTL: ttl} }

// Apply runs op through s's own single-key method and records its
// results: how a store without a cheaper batch implements Pipeline.
func Apply(ctx context.Context, s Store, op *Op) {
	switch op.Kind {
	case OpGet:
		op.Val, op.Err = s.Get(ctx, op.Key)
	case OpSet:
		op.Err = s.Set(ctx, op.Key, op.Value, op.TTL)
	case OpSetNX:
		op.OK, op.Err = s.SetNX(ctx, op.Key, op.Value, op.TTL)
	case OpDelete:
		op.Err = s.Delete(ctx, op.Key)
	case OpCompareAndSwap:
		op.OK, op.Err = s.CompareAndSwap(ctx, op.Key, op.Prev, op.Value, op.TTL)
	case OpSwap:
		op.Val, op.Err = s.Swap(ctx, op.Key, op.Value)
	case OpHGet:
		op.Val, op.Err = s.HGet(ctx, op.Key, op.Field)
	case OpHSet:
		op.Err = s.HSet(ctx, op.Key, op.Field, op.Value)
	case OpRun:
		op.Ints, op.Err = s.Run(ctx, op.Script, op.Keys, op.Args...)
	case OpZAdd:
		op.Err = s.ZAdd(ctx, op.Key, op.Field)
	case OpZRem:
		op.Err = s.ZRem(ctx, op.Key, op.Field)
	case OpIncr:
		op.N, op.Err = s.Incr(ctx, op.Key, op.Delta, op.TTL)
	case OpExtend:
		op.OK, op.Err = s.Extend(ctx, op.Key, op.TTL)
	default:
		op.Err = fmt.Errorf("store: unknown op kind %d", op.Kind)
	}
}

// FirstError is Pipeline's answer for ops that have run: the first error
// other than ErrNotFound, or nil.
func FirstError(ops []*Op) error {
	for _, op := range ops {
		if op.Err != nil && !errors.Is(op.Err, ErrNotFound) {
			return op.Err
		}
	}
	return nil
}

// Tx is what a Script's Go twin may do: the single-key Store methods, with
// the meaning they have there, on the keys handed to Run (and no others),
// all under one lock.
type Tx interface {
	Get(key string) ([]byte, error)
	Set(key string, value []byte, ttl time.Duration) error
	SetNX(key string, value []byte, ttl time.Duration) (bool, error)
	Delete(key string) error
	Incr(key string, delta int64, ttl time.Duration) (int64, error)
	TTL(key string) (time.Duration, error)
	// HGet reads one field of a hash (a switch a script obeys).
	HGet(key, field string) ([]byte, error)
	// HSet writes one field of a hash (an index a write keeps in step
	// with its record).
	HSet(key, field string, value []byte) error
	// ZAdd and ZRem change an ordered set (an index a write keeps in step
	// with its record).
	ZAdd(key, member string) error
	ZRem(key, member string) error
}

// Script is an atomic operation over several keys of one tenant, written
// twice: in Lua for Redis and in Go (the twin, over a Tx) for the memory
// store. Both must read and write the same and return the same integers;
// the package that defines a script runs its tests on both stores to
// hold them to it. Scripts compare no secrets: callers do that in Go and
// pass the verdict in.
type Script struct {
	lua  string
	twin func(tx Tx, keys, args []string) ([]int64, error)
	sha  string
}

// NewScript pairs a Lua script with its Go twin. Build scripts once (as
// package values): a store recognises a script by its pointer.
func NewScript(lua string, twin func(tx Tx, keys, args []string) ([]int64, error)) *Script {
	h := sha1.Sum([]byte(lua))
	return &Script{lua: lua, twin: twin, sha: hex.EncodeToString(h[:])}
}

// Lua returns the script's source.
func (s *Script) Lua() string { return s.lua }

// SHA1 returns the hex SHA-1 of the source (Redis's script id).
func (s *Script) SHA1() string { return s.sha }

// Twin runs the Go twin over tx.
func (s *Script) Twin(tx Tx, keys, args []string) ([]int64, error) {
	return s.twin(tx, keys, args)
}
