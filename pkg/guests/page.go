package guests

import (
	"context"
	"errors"
	"strings"
)

// ErrBadCursor: a page cursor that this package did not hand out.
var ErrBadCursor = errors.New("guests: invalid page cursor")

// MaxPageSize bounds one page, so a request's work is bounded too.
const MaxPageSize = 200

// Page returns at most size guests that pass f, after cursor ("" for the
// first page), and the cursor of the next page ("" when there is none).
// A cursor is opaque to callers; one this package did not make is
// ErrBadCursor.
func (t *TenantRepo) Page(ctx context.Context, f Filter, size int, cursor string) ([]*Guest, string, error) {
	return t.r.page(ctx, t.tenant, f, size, cursor)
}

func (r *Repo) page(ctx context.Context, tenant string, f Filter, size int, cursor string) ([]*Guest, string, error) {
	if size < 1 || size > MaxPageSize {
		return nil, "", errInvalid
	}
	var afterEmail, afterID string
	if cursor != "" {
		var ok bool
		if afterEmail, afterID, ok = strings.Cut(cursor, "\x00"); !ok {
			return nil, "", ErrBadCursor
		}
	}
	all, err := r.list(ctx, tenant, f)
	if err != nil {
		return nil, "", err
	}
	var out []*Guest
	for _, g := range all {
		if cursor != "" && (g.Email < afterEmail || g.Email == afterEmail && g.ID <= afterID) {
			continue
		}
		if len(out) == size {
			last := out[len(out)-1]
			return out, last.Email + "\x00" + last.ID, nil
		}
		out = append(out, g)
	}
	return out, "", nil
}
