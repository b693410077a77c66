package guests

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/guestpass/guestpass/pkg/store"
)

// SeedOps are the store ops that write g as the production path does (the
// record and its indexes, atomically), for a
// benchmark that seeds many guests with pipelines.
func (r *Repo) SeedOps(tenant string, g *Guest) []*store.Op {
	raw, err := json.Marshal(g)
	if err != nil {
		panic(err)
	}
	keys := append([]string{r.recordKey(tenant, g.Canonical), idsKey(tenant)}, indexKeys(tenant, g)...)
	return []*store.Op{store.RunOp(writeScript, keys, "1", "", string(raw), member(g), g.ID, g.Canonical)}
}

// RecordKey is where r keeps the record of canonical (a test that
// simulates a crash deletes it).
func (r *Repo) RecordKey(tenant, canonical string) string { return r.recordKey(tenant, canonical) }

// List returns the tenant's guests that pass f, every page of Page, sorted
// by email, then id: the whole list a test compares.
func (t *TenantRepo) List(ctx context.Context, f Filter) ([]*Guest, error) {
	var out []*Guest
	for cursor := ""; ; {
		page, next, err := t.Page(ctx, f, MaxPageSize, cursor)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	slices.SortFunc(out, func(a, b *Guest) int {
		if c := strings.Compare(a.Email, b.Email); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
