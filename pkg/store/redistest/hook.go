package redistest

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// TripHook is a go-redis hook that calls its function with the commands
// of every round trip before it is sent: one command alone (pipeline
// false), or a pipeline's, even a pipeline of one. The tests that count round trips or look at what was sent
// add one to a client (Client.AddHook) instead of each writing the three
// hook methods again.
type TripHook func(cmds []redis.Cmder, pipeline bool)

// DialHook leaves dialing alone.
func (f TripHook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook sees a command sent alone.
func (f TripHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		f([]redis.Cmder{cmd}, false)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook sees a pipeline's commands.
func (f TripHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		f(cmds, true)
		return next(ctx, cmds)
	}
}
