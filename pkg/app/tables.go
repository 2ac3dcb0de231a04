package app

import (
	"context"
	"net/http"

	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/search"
	"github.com/parley-dev/parley/pkg/tabledata"
	"github.com/parley-dev/parley/pkg/tables"
	"github.com/parley-dev/parley/pkg/topology"
)

// The tables table's store is what the tables API declares.
var (
	_ tables.Store  = (*tabledata.Store)(nil)
	_ tables.Quotas = tableQuotas{}
	_ tables.Eraser = eraser{}
)

// tableQuotas reads a workspace's plan (one GetItem of the admin table)
// and answers its quotas from the one table of quotas per plan.
type tableQuotas struct{ admin *admindata.Store }

func (q tableQuotas) TableQuotas(ctx context.Context, ws string) (int, int64, error) {
	w, err := q.admin.Workspace(ctx, ws)
	if err != nil {
		return 0, 0, err
	}
	return int(admindata.Quota(w.Plan, admindata.UsageTables)), int64(admindata.Quota(w.Plan, admindata.UsageTableRows)), nil
}

// registerTables wires the tables function: the tables API on the tables
// table's store, quotas from the admin table, erase intents through the
// lifecycle outbox and queue, and the in-process embedder for search.
func registerTables(rt *httpapi.Router, d Deps, adminStore *admindata.Store) {
	store := tabledata.NewStore(d.DB, d.Config.Table(topology.TablesTable))
	tables.NewAPI(store, auth.New(adminStore), d.Clock, tables.Deps{
		Quotas: tableQuotas{admin: adminStore}, Eraser: chatEraser(d), Embedder: search.Local{}, Log: d.Log,
	}).Register(rt)
}

// TablesHTTP builds the tables function's handler.
func TablesHTTP(d Deps) (http.Handler, error) {
	_, adminStore, _, rt := httpBase(d)
	registerTables(rt, d, adminStore)
	return rt, nil
}
