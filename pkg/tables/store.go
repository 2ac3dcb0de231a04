package tables

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/tabledata"
)

// The records of the tables API are the tables table's (pkg/tabledata owns
// its layout); the API reaches them only through the interfaces below,
// which *tabledata.Store implements (checked in pkg/app).
type (
	Table  = tabledata.Table
	Column = tabledata.Column
	Row    = tabledata.Row
	Change = tabledata.Change
	Plan   = tabledata.Plan
	Bound  = tabledata.Bound
)

// Store keeps tables and their rows.
type Store interface {
	CreateTable(ctx context.Context, bot string, t Table, maxTables int) error
	Table(ctx context.Context, bot, ref string) (Table, error)
	Tables(ctx context.Context, bot string) ([]Table, error)
	UpdateTable(ctx context.Context, bot string, old, t Table) error
	DeleteTable(ctx context.Context, bot string, t Table, intent func(part string) types.TransactWriteItem) error
	ClearRows(ctx context.Context, bot string, t Table, at string, intent func(part string) types.TransactWriteItem) (int64, error)
	ReserveRows(ctx context.Context, bot string, t Table, count, maxRows int64) (int64, error)
	Uncount(ctx context.Context, bot string, t Table, count int64) error
	WriteRows(ctx context.Context, bot string, t Table, changes []Change) (map[int]error, error)
	Row(ctx context.Context, bot string, t Table, id int64) (Row, error)
	Rows(ctx context.Context, bot string, t Table, ids []int64) (map[int64]Row, error)
	DeleteRows(ctx context.Context, bot string, t Table, rows []Row) error
	Scan(ctx context.Context, bot string, t Table, plan Plan, each func(Row) (bool, error)) (int, error)
	KeyRows(ctx context.Context, bot string, t Table, values []any) (map[string]int64, error)
	Backfill(ctx context.Context, bot string, t Table, cols []string) error
	CopyRows(ctx context.Context, bot string, src, dst Table) (int64, error)
	SetCounters(ctx context.Context, bot string, t Table, nextRowID, rows, maxRows int64) error
}

// Quotas are a workspace's plan's limits: tables per bot and table rows
// (rows × factor, across the workspace's tables). 0 is no limit.
type Quotas interface {
	TableQuotas(ctx context.Context, workspaceID string) (tablesPerBot int, rows int64, err error)
}

// Eraser is the lifecycle's side of deleting: the transaction item that
// records the intent to erase a left partition (written with the
// deletion), and the kick that asks the lifecycle worker to erase it now.
type Eraser interface {
	EraseIntent(bot, kind, id string, at time.Time) types.TransactWriteItem
	Kick(ctx context.Context, bot, kind, id string) error
}
