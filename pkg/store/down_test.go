package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// Down is the one outage test of every HTTP layer: the store's own
// "unavailable" and a deadline that ran out waiting for it are outages
// (a 503 to retry); anything else, not found included, is not.
func TestDown(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("read guest: %w", ErrUnavailable), true},
		{fmt.Errorf("pipeline: %w", context.DeadlineExceeded), true},
		{fmt.Errorf("read guest: %w", ErrNotFound), false},
		{errors.New("script: bad reply"), false},
		{nil, false},
	} {
		if got := Down(tc.err); got != tc.want {
			t.Errorf("Down(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
