package guests

import (
	"encoding/json"

	"github.com/guestpass/guestpass/pkg/store"
)

// SeedOps are the store ops that write g as the production path does (the
// record and its list indexes, atomically, and the id index), for a
// benchmark that seeds many guests with pipelines.
func SeedOps(tenant string, g *Guest) []*store.Op {
	raw, err := json.Marshal(g)
	if err != nil {
		panic(err)
	}
	keys := append([]string{recordKey(tenant, g.Canonical)}, indexKeys(tenant, g)...)
	return []*store.Op{
		store.RunOp(writeScript, keys, "1", "", string(raw), member(g)),
		store.HSetOp(idsKey(tenant), g.ID, []byte(g.Canonical)),
	}
}
