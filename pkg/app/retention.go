package app

import (
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/cursor"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/policy"
	"github.com/parley-dev/parley/pkg/retention"
	"github.com/parley-dev/parley/pkg/topology"
)

// Retention policies: the policy API, the sweep the off-peak window runs
// after deletion jobs, and the worker that archives or deletes.

const retentionWorkKind = retention.WorkKind

type retentionParts struct {
	policies *lifecycledata.PolicyStore
	finder   *retention.Finder
	runs     *retention.Runs
}

func retentionOf(d Deps, adminStore *admindata.Store, pages *cursor.Codec) retentionParts {
	lc := d.Config.Table(topology.LifecycleTable)
	return retentionParts{
		policies: lifecycledata.NewPolicyStore(d.DB, lc, pages),
		finder:   retention.NewFinder(catalogue(d), adminStore),
		runs:     retention.NewRuns(d.DB, lc, pages, adminStore, receipts(d), d.Clock, d.Log),
	}
}

func registerPolicies(rt *httpapi.Router, d Deps, adminStore *admindata.Store, authn *auth.Authenticator, pages *cursor.Codec) {
	r := retentionOf(d, adminStore, pages)
	enforce := retention.Enforcement{Policies: r.policies, Finder: r.finder, RunStore: r.runs, Clock: d.Clock}
	policy.NewAPI(r.policies, adminStore, adminStore, enforce, authn, d.Clock).Register(rt)
}

func retentionWorker(d Deps, b *lifecycledata.Budgets) lifecycle.Handler {
	pages := cursor.New(d.Config.SigningKey)
	r := retentionOf(d, admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), pages), pages)
	return retention.NewWorker(r.runs, catalogue(d), r.policies, holds(d), d.S3, d.Config.Env[topology.EnvVar("bucket", topology.ArchiveBucket)], d.Clock, d.Log).Paced(b).Handle
}

func retentionSweep(d Deps) (*retention.Sweep, error) {
	length, err := duration(d, topology.EnvVar("window", topology.OffpeakSchedule))
	if err != nil {
		return nil, err
	}
	pages := cursor.New(d.Config.SigningKey)
	r := retentionOf(d, admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), pages), pages)
	return retention.NewSweep(r.policies, r.finder, r.runs, d.SQS, d.Config.Env[topology.EnvVar("queue", topology.LifecycleQueue)], d.Clock, length, d.Log), nil
}
