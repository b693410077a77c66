package redisstore

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/store"
)

// Pipeline implements store.Store with one go-redis pipeline (one round
// trip; on a Cluster, go-redis splits it by node and sends the parts
// concurrently, so a step whose keys spread over nodes still waits for
// one round trip). CompareAndSwap and Run go as EVALSHA of the scripts
// every connection loads; should a server have refused to load them,
// those ops are re-run on their own. Incr is native: INCRBY, then
// PEXPIRE NX (queueIncrOp); Swap is SET XX GET KEEPTTL.
func (s *Store) Pipeline(ctx context.Context, ops ...*store.Op) error {
	pipe := s.client.Pipeline()
	keys := s.batchKeys(ops)
	// Each op's command, and an Incr's second one (its PEXPIRE NX): one
	// allocation for the batch.
	cmds := make([]struct {
		cmd    redis.Cmder
		expire *redis.BoolCmd
	}, len(ops))
	for i, op := range ops {
		if op.Kind == store.OpIncr {
			incr, expire, err := s.queueIncrOp(ctx, pipe, op, keys.key(op.Key))
			if err != nil {
				op.Err = err
				continue
			}
			cmds[i].cmd, cmds[i].expire = incr, expire
			continue
		}
		cmds[i].cmd = s.queue(ctx, pipe, op, &keys)
	}
	if pipe.Len() > 0 {
		// Exec's own error is that of the first failed command (redis.Nil
		// included); each command's error is read below.
		_, _ = pipe.Exec(ctx)
	}
	for i, op := range ops {
		if cmds[i].cmd == nil {
			continue // answered without Redis: a refusal (op.Err), or Extend by 0
		}
		if err := cmds[i].cmd.Err(); err != nil && isNoScript(err) {
			store.Apply(ctx, s, op)
			continue
		}
		s.read(op, cmds[i].cmd)
		if e := cmds[i].expire; e != nil && op.Err == nil && e.Err() != nil {
			op.Err = fail("incr", e.Err())
		}
	}
	return store.FirstError(ops)
}

func isNoScript(err error) bool {
	return strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// batchKeys are the prefixed keys of a batch's ops, cut from one string:
// a sign-in's pipelines carry some forty keys, and one allocation per
// batch makes them instead of one per key. key hands them out in the
// order batchKeys wrote them (each op's Key, a script's Keys); asked
// for another key (a change of that order), it makes the key as Store.key
// does, so a slip costs an allocation, never a wrong key.
type batchKeys struct {
	all    string
	off    int
	prefix string
}

func (s *Store) batchKeys(ops []*store.Op) batchKeys {
	b := batchKeys{prefix: s.prefix}
	if s.prefix == "" {
		return b // Store.key makes no copy either
	}
	n := 0
	for _, op := range ops {
		if op.Kind != store.OpRun {
			n += len(s.prefix) + len(op.Key)
			continue
		}
		for _, k := range op.Keys {
			n += len(s.prefix) + len(k)
		}
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, op := range ops {
		if op.Kind != store.OpRun {
			sb.WriteString(s.prefix)
			sb.WriteString(op.Key)
			continue
		}
		for _, k := range op.Keys {
			sb.WriteString(s.prefix)
			sb.WriteString(k)
		}
	}
	b.all = sb.String()
	return b
}

// key is k with the prefix: the next key of the batch's string.
func (b *batchKeys) key(k string) string {
	if end := b.off + len(b.prefix) + len(k); end <= len(b.all) {
		if c := b.all[b.off:end]; c[:len(b.prefix)] == b.prefix && c[len(b.prefix):] == k {
			b.off = end
			return c
		}
	}
	return b.prefix + k
}

// queue adds op to pipe and returns its command, or nil when op is
// answered without asking Redis: refused (op.Err set), or an Extend by 0,
// which lengthens nothing. Its keys come from keys.
func (s *Store) queue(ctx context.Context, pipe redis.Pipeliner, op *store.Op, keys *batchKeys) redis.Cmder {
	if op.Kind == store.OpRun {
		full, argv := s.scriptArgs(op.Keys, op.Args, keys)
		if v, ok := s.scripts.Load(op.Script); ok {
			return v.(*redis.Script).EvalSha(ctx, pipe, full, argv...)
		}
		rs := redis.NewScript(op.Script.Lua())
		s.scripts.Store(op.Script, rs)
		return rs.Eval(ctx, pipe, full, argv...)
	}
	k := keys.key(op.Key)
	switch op.Kind {
	case store.OpSet, store.OpSetNX, store.OpCompareAndSwap:
		ttl, err := ttlArg(op.TTL)
		if err != nil {
			op.Err = err
			return nil
		}
		switch op.Kind {
		case store.OpSet:
			return pipe.Set(ctx, k, op.Value, ttl)
		case store.OpSetNX:
			return pipe.SetNX(ctx, k, op.Value, ttl)
		default:
			return pipe.EvalSha(ctx, casScript.Hash(), []string{k},
				flag(op.Prev), nonNil(op.Prev), flag(op.Value), nonNil(op.Value), ttl.Milliseconds())
		}
	case store.OpGet:
		return pipe.Get(ctx, k)
	case store.OpSwap:
		return pipe.SetArgs(ctx, k, nonNil(op.Value), swapArgs)
	case store.OpDelete:
		return pipe.Del(ctx, k)
	case store.OpHGet:
		return pipe.HGet(ctx, k, op.Field)
	case store.OpHSet:
		return pipe.HSet(ctx, k, op.Field, op.Value)
	case store.OpZRem:
		return pipe.ZRem(ctx, k, op.Field)
	case store.OpExtend:
		ttl, err := ttlArg(op.TTL)
		if err != nil || ttl == 0 {
			op.Err = err
			return nil
		}
		return pexpire(ctx, pipe, k, ttl, "gt")
	case store.OpZAdd:
		return pipe.ZAdd(ctx, k, redis.Z{Member: op.Field})
	}
	store.Apply(ctx, s, op) // sets the unknown-kind error
	return nil
}

// queueIncrOp queues an Incr op as two native commands: INCRBY, then
// PEXPIRE NX, which gives the counter its window only when it has none
// (Redis 7.0; New's connections check the version). Should the expiry be
// lost (a broken connection between the two), the next Incr sets it: a
// counter never keeps living without one. No script: a script costs
// Redis ten times the CPU of these two commands. expire is nil for ttl 0.
func (s *Store) queueIncrOp(ctx context.Context, pipe redis.Pipeliner, op *store.Op, k string) (incr *redis.IntCmd, expire *redis.BoolCmd, err error) {
	ttl, err := ttlArg(op.TTL)
	if err != nil {
		return nil, nil, err
	}
	incr = pipe.IncrBy(ctx, k, op.Delta)
	if ttl == 0 {
		return incr, nil, nil
	}
	return incr, pexpire(ctx, pipe, k, ttl, "nx"), nil
}

// read records cmd's answer in op with the meaning of op's own method.
func (s *Store) read(op *store.Op, cmd redis.Cmder) {
	err := cmd.Err()
	if errors.Is(err, redis.Nil) {
		switch op.Kind {
		case store.OpGet, store.OpHGet, store.OpSwap:
			op.Err = store.ErrNotFound
		}
		// SetNX answers nil when the key exists: OK stays false.
		return
	}
	if err != nil {
		op.Err = fail(opName(op.Kind), err)
		return
	}
	switch c := cmd.(type) {
	case *redis.IntCmd:
		if op.Kind == store.OpIncr {
			op.N = c.Val()
		}
	case *redis.StringCmd:
		op.Val, op.Err = c.Bytes()
	case *redis.StatusCmd:
		if op.Kind == store.OpSwap {
			op.Val, op.Err = c.Bytes()
		}
	case *redis.BoolCmd:
		op.OK = c.Val() // SetNX, Extend
	case *redis.Cmd:
		if op.Kind == store.OpRun {
			if op.Ints, err = c.Int64Slice(); err != nil {
				op.Err = fail("script", err)
			}
			return
		}
		n, err := c.Int64()
		if err != nil {
			op.Err = fail(opName(op.Kind), err)
			return
		}
		op.OK = n == 1 // CompareAndSwap
	}
}

// scriptArgs prefixes a script's keys (from batch, which holds them in
// order) and boxes its arguments for go-redis.
func (s *Store) scriptArgs(keys, args []string, batch *batchKeys) ([]string, []any) {
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = batch.key(k)
	}
	argv := make([]any, len(args))
	for i := range args {
		// A pointer into args, which go-redis writes as the string it
		// points to (proto.Writer.WriteArg's *string case): boxing the
		// string itself copies its header to the heap, an allocation per
		// argument (a passcode's issue sends eleven). Nothing changes args
		// while the command is in flight.
		argv[i] = &args[i]
	}
	return full, argv
}

func opName(k store.OpKind) string {
	switch k {
	case store.OpGet:
		return "get"
	case store.OpSet:
		return "set"
	case store.OpSetNX:
		return "setnx"
	case store.OpDelete:
		return "delete"
	case store.OpCompareAndSwap:
		return "compare-and-swap"
	case store.OpSwap:
		return "swap"
	case store.OpHGet:
		return "hget"
	case store.OpHSet:
		return "hset"
	case store.OpRun:
		return "script"
	case store.OpZAdd:
		return "zadd"
	case store.OpZRem:
		return "zrem"
	case store.OpIncr:
		return "incr"
	case store.OpExtend:
		return "extend"
	}
	return "op"
}

// Run implements store.Store. A script's first run on this Store goes as
// EVAL, which also caches it on the server; later runs are EVALSHA (EVAL
// again after a NOSCRIPT), and new connections load it like the store's
// own scripts, so that a restarted Redis costs no extra round trip.
func (s *Store) Run(ctx context.Context, script *store.Script, keys []string, args ...string) ([]int64, error) {
	// Its keys cut from one string, as a batch of this one script's.
	batch := s.batchKeys([]*store.Op{{Kind: store.OpRun, Keys: keys}})
	full, argv := s.scriptArgs(keys, args, &batch)
	v, loaded := s.scripts.Load(script)
	var cmd *redis.Cmd
	if loaded {
		cmd = v.(*redis.Script).Run(ctx, s.client, full, argv...)
	} else {
		rs := redis.NewScript(script.Lua())
		s.scripts.Store(script, rs)
		cmd = rs.Eval(ctx, s.client, full, argv...)
	}
	res, err := cmd.Int64Slice()
	if err != nil {
		return nil, fail("script", err)
	}
	return res, nil
}
