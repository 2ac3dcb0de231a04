package app

import (
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/tabledata"
	"github.com/parley-dev/parley/pkg/topology"
)

// catalogue is the one place every kind of data Parley keeps for a bot is
// registered, in the order a bot purge erases them (what lives inside
// before what holds it). Bot purge, deletion jobs, retention and the
// outbox walk it; a kind registered here is governed by all of them.
func catalogue(d Deps) *lifecycle.Catalogue {
	admin := d.Config.Table(topology.AdminTable)
	kinds := append(chatdata.Kinds(d.DB, d.Config.Table(topology.ChatTable)),
		admindata.NewIssueKind(d.DB, admin),
		admindata.NewLogKind(d.DB, admin),
		admindata.NewAPIKeyKind(d.DB, admin),
		admindata.NewUsageKind(d.DB, admin),
		admindata.NewCodeKind(d.S3, d.Config.Env[topology.EnvVar("bucket", topology.BotCodeBucket)]),
		fileKind(d),
	)
	kinds = append(kinds, tabledata.Kinds(d.DB, d.Config.Table(topology.TablesTable))...)
	c, err := lifecycle.NewCatalogue(kinds...)
	if err != nil {
		panic(err) // a kind registered twice is a programming error
	}
	return c
}
