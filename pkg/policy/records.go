package policy

import (
	"context"

	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// Policy records are owned by the lifecycle table's owner, which both this
// API and the enforcement read; these names are the API's view of them.
type (
	Policy   = lifecycledata.Policy
	Config   = lifecycledata.PolicyConfig
	Scope    = lifecycledata.PolicyScope
	Change   = lifecycledata.PolicyChange
	Filter   = lifecycledata.PolicyFilter
	Duration = lifecycledata.Duration
)

// Values of a policy's type and configuration.
const (
	TypeRetention         = lifecycledata.PolicyTypeRetention
	ActionArchive         = lifecycledata.ActionArchive
	ActionDelete          = lifecycledata.ActionDelete
	BasisUpdatedAt        = lifecycledata.BasisUpdatedAt
	BasisCreatedAt        = lifecycledata.BasisCreatedAt
	ResourceConversations = lifecycledata.ResourceConversations
	ResourceEvents        = lifecycledata.ResourceEvents
)

// ParseConfig validates a retention config and fills in its defaults.
func ParseConfig(raw []byte) (Config, error) { return lifecycledata.ParsePolicyConfig(raw) }

// Store keeps policies; every change is committed with its audit record
// (commit runs the store's transaction items with it, chained).
type Store interface {
	Create(ctx context.Context, p Policy, commit audit.Commit) error
	Get(ctx context.Context, ws, id string) (Policy, error)
	Update(ctx context.Context, ws, id string, c Change, commit audit.Commit) error
	Delete(ctx context.Context, ws, id string, commit audit.Commit) error
	List(ctx context.Context, ws string, f Filter, token string, take int) ([]Policy, string, error)
}

var _ Store = (*lifecycledata.PolicyStore)(nil)
