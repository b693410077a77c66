// Package requestid carries a request's id in its context, so that every
// log line about a request can name it (PRODUCT.md B8), whichever package
// writes it.
package requestid

import (
	"context"

	"go.uber.org/zap"
)

type key struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the id in ctx, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// Field is the id as a log field.
func Field(ctx context.Context) zap.Field { return zap.String("request_id", From(ctx)) }
