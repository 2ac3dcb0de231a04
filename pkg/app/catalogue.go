package app

import (
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/topology"
)

// catalogue is the one place every kind of data Parley keeps for a bot is
// registered, in the order a bot purge erases them (what lives inside
// before what holds it). Bot purge, deletion jobs, retention and the
// outbox walk it; a kind registered here is governed by all of them.
func catalogue(d Deps) *lifecycle.Catalogue {
	kinds := chatdata.Kinds(d.DB, d.Config.Table(topology.ChatTable))
	c, err := lifecycle.NewCatalogue(kinds...)
	if err != nil {
		panic(err) // a kind registered twice is a programming error
	}
	return c
}
