package guests

import (
	"encoding/json"

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
	keys := append([]string{r.recordKey(tenant, g.Canonical), listKey(tenant), idsKey(tenant)}, indexKeys(tenant, g)...)
	return []*store.Op{store.RunOp(writeScript, keys, "1", "", string(raw), member(g), g.ID, g.Canonical)}
}

// RecordKey is where r keeps the record of canonical (a test that
// simulates a crash deletes it).
func (r *Repo) RecordKey(tenant, canonical string) string { return r.recordKey(tenant, canonical) }
