package guests

import (
	"encoding/json"

	"github.com/guestpass/guestpass/pkg/store"
)

// SeedOps are the store ops that write g as the production path does (the
// record and its indexes, atomically), for a
// benchmark that seeds many guests with pipelines.
func SeedOps(tenant string, g *Guest) []*store.Op {
	raw, err := json.Marshal(g)
	if err != nil {
		panic(err)
	}
	keys := append([]string{recordKey(tenant, g.Canonical), listKey(tenant), idsKey(tenant)}, indexKeys(tenant, g)...)
	return []*store.Op{store.RunOp(writeScript, keys, "1", "", string(raw), member(g), g.ID, g.Canonical)}
}
