package guests

import (
	"context"
	"errors"
)

// ErrBadCursor: a page cursor that this package did not hand out.
var ErrBadCursor = errors.New("guests: invalid page cursor")

// MaxPageSize bounds one page, so a request's work is bounded too.
const MaxPageSize = 200

// Page returns at most size guests that pass f, oldest first, after
// cursor ("" for the first page), and the cursor of the next page (""
// when there is none). A page may be shorter than size and still have a
// next one (a filter that matches few guests: the work of one request is
// bounded). A cursor is opaque to callers; one that this package could
// not have made is ErrBadCursor.
func (t *TenantRepo) Page(ctx context.Context, f Filter, size int, cursor string) ([]*Guest, string, error) {
	return t.r.page(ctx, t.tenant, f, size, cursor)
}
