package store

import "context"

// Read is one typed read of a batch: the op a handler sends in its
// Pipeline with the step's other ops, and the decoding of its answer,
// which belongs to the package that owns the key. A handler builds the
// reads of a step, sends their ops in one Pipeline, and passes the
// decoded values down: reading the handler shows its round trips.
type Read[T any] struct {
	op     *Op
	decode func(op *Op) (T, error)
}

// NewRead pairs op with decode, which gets op after the Pipeline ran (its
// Val and Err). A nil op is a read that needs no store (say, an id that
// cannot name a record): decode then gets nil.
func NewRead[T any](op *Op, decode func(op *Op) (T, error)) *Read[T] {
	return &Read[T]{op: op, decode: decode}
}

// Op is the op to send; nil when the read needs no store.
func (r *Read[T]) Op() *Op { return r.op }

// Result decodes the answer once the op has run.
func (r *Read[T]) Result() (T, error) { return r.decode(r.op) }

// Batch sends the non-nil ops in one Pipeline (none: no round trip), so a
// step can list reads of which some need no store.
func Batch(ctx context.Context, s Store, ops ...*Op) error {
	run := make([]*Op, 0, len(ops))
	for _, op := range ops {
		if op != nil {
			run = append(run, op)
		}
	}
	if len(run) == 0 {
		return nil
	}
	return s.Pipeline(ctx, run...)
}
