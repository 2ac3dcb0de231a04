package tabledata

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Column is one column of a table. Rows keep its values under ID, which
// never changes; Name is what clients see.
type Column struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Def is the column's JSON Schema as the client gave it.
	Def        json.RawMessage `json:"def"`
	Required   bool            `json:"required,omitempty"`
	Indexed    bool            `json:"indexed,omitempty"`
	Searchable bool            `json:"searchable,omitempty"`
}

// Table is a table's definition and counters.
type Table struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Factor           int               `json:"factor"`
	Frozen           bool              `json:"frozen"`
	Tags             map[string]string `json:"tags"`
	IsComputeEnabled bool              `json:"isComputeEnabled"`
	CreatedAt        string            `json:"createdAt"`
	UpdatedAt        string            `json:"updatedAt"`
	// KeyColumn is the id of the key column ("" for none).
	KeyColumn string `json:"keyColumn"`
	// Columns are stored as one JSON attribute; Extra holds the schema's
	// other top-level keywords ($schema, description…).
	Columns     []Column        `json:"-"`
	Extra       json.RawMessage `json:"-"`
	NextColumn  int             `json:"nextColumn"`
	WorkspaceID string          `json:"workspaceId"`
	// Gen is the generation of the rows partition; NextRowID the last row
	// id given; Rows the number of rows.
	Gen       int64 `json:"gen"`
	NextRowID int64 `json:"nextRowId"`
	Rows      int64 `json:"rows"`
}

// Column returns the column with id.
func (t Table) Column(id string) (Column, bool) {
	for _, c := range t.Columns {
		if c.ID == id {
			return c, true
		}
	}
	return Column{}, false
}

// Named returns the column named name.
func (t Table) Named(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// IndexedColumns are the ids of the columns with index entries (not the
// key column, whose claims index it).
func (t Table) IndexedColumns() []string {
	var out []string
	for _, c := range t.Columns {
		if c.Indexed && c.ID != t.KeyColumn {
			out = append(out, c.ID)
		}
	}
	return out
}

// Part is the name of the table's current rows partition.
func (t Table) Part() string { return partName(t.ID, t.Gen) }

// Store keeps tables and rows in the tables table.
type Store struct {
	db    ds.Client
	table string
	// Sleep waits between retries of unprocessed batch items.
	Sleep ds.Sleeper
}

// NewStore returns a store on table.
func NewStore(db ds.Client, table string) *Store {
	return &Store{db: db, table: table, Sleep: ds.Sleep}
}

type tableRecord struct {
	Table
	ColumnsJSON string `json:"columns"`
	ExtraJSON   string `json:"extra,omitempty"`
}

func tableItem(bot string, t Table) map[string]types.AttributeValue {
	cols, _ := json.Marshal(t.Columns)
	rec := tableRecord{Table: t, ColumnsJSON: string(cols), ExtraJSON: string(t.Extra)}
	if rec.Tags == nil {
		rec.Tags = map[string]string{}
	}
	k := tableKey(bot, t.Name)
	return ds.Item(rec, map[string]string{ds.PK: ds.String(k, ds.PK), ds.SK: ds.String(k, ds.SK)})
}

func tableOf(item map[string]types.AttributeValue) (Table, error) {
	var rec tableRecord
	if err := ds.Unmarshal(item, &rec); err != nil {
		return Table{}, err
	}
	t := rec.Table
	if err := json.Unmarshal([]byte(rec.ColumnsJSON), &t.Columns); err != nil {
		return Table{}, err
	}
	if rec.ExtraJSON != "" {
		t.Extra = json.RawMessage(rec.ExtraJSON)
	}
	if t.Tags == nil {
		t.Tags = map[string]string{}
	}
	return t, nil
}

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// IsTableID tells a table id ("table_<ULID>") from a table name (names end
// with "Table").
func IsTableID(ref string) bool {
	return strings.HasPrefix(ref, "table_") && !strings.HasSuffix(ref, "Table")
}

// CreateTable writes a new table: its item, its id's item and the bot's
// table count, in one transaction whose conditions keep names unique and
// the count within maxTables.
func (s *Store) CreateTable(ctx context.Context, bot string, t Table, maxTables int) error {
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: tableItem(bot, t), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Put: &types.Put{TableName: &s.table, Item: ds.Item(struct {
			Name string `json:"name"`
		}{t.Name}, keysOf(tableIDKey(bot, t.ID))), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Update: &types.Update{TableName: &s.table, Key: tableCountKey(bot), UpdateExpression: aws.String("ADD #t :one"),
			ConditionExpression: aws.String("attribute_not_exists(#t) OR #t < :max"), ExpressionAttributeNames: map[string]string{"#t": "tables"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":max": n(int64(maxTables))}}},
	}})
	switch reasons := ds.CancellationReasons(err); {
	case err == nil:
		return nil
	case len(reasons) == 3 && reasons[0] == "ConditionalCheckFailed":
		return apperr.New(apperr.AlreadyExists, "a table named %q already exists", t.Name)
	case len(reasons) == 3 && reasons[2] == "ConditionalCheckFailed":
		return apperr.New(apperr.QuotaExceeded, "the bot already has %d tables, its plan's quota", maxTables)
	}
	return err
}

func keysOf(key map[string]types.AttributeValue) map[string]string {
	return map[string]string{ds.PK: ds.String(key, ds.PK), ds.SK: ds.String(key, ds.SK)}
}

// Table reads a table by name or id: one GetItem by name, two by id.
func (s *Store) Table(ctx context.Context, bot, ref string) (Table, error) {
	name := ref
	if IsTableID(ref) {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: tableIDKey(bot, ref), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return Table{}, err
		}
		if out.Item == nil {
			return Table{}, apperr.NotFound("table", ref)
		}
		name = ds.String(out.Item, "name")
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: tableKey(bot, name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Table{}, err
	}
	if out.Item == nil {
		return Table{}, apperr.NotFound("table", ref)
	}
	return tableOf(out.Item)
}

// Tables lists a bot's tables by name: one Query (a bot has at most a
// plan's quota of tables, a few dozen).
func (s *Store) Tables(ctx context.Context, bot string) ([]Table, error) {
	var out []Table
	in := &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: aws.String("pk = :p AND begins_with(sk, :s)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S(botPK(bot)), ":s": ds.S("TABLE#")}, ConsistentRead: aws.Bool(true)}
	pages := dynamodb.NewQueryPaginator(s.db, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			t, err := tableOf(it)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// sameCounters is the condition that a table item still has the
// generation and counters it was read with.
func sameCounters(t Table) (string, map[string]types.AttributeValue) {
	return "attribute_exists(pk) AND gen = :gen AND nextRowId = :next AND #rows = :rows",
		map[string]types.AttributeValue{":gen": n(t.Gen), ":next": n(t.NextRowID), ":rows": n(t.Rows)}
}

func changed() error {
	return apperr.New(apperr.ResourceLockedConflict, "the table changed while this request ran; retry")
}

// UpdateTable replaces a table's definition (old as read). Counters are
// left alone unless the name changes, which moves the table's item.
func (s *Store) UpdateTable(ctx context.Context, bot string, old, t Table) error {
	if old.Name == t.Name {
		item := tableItem(bot, t)
		sets := []string{}
		names := map[string]string{}
		values := map[string]types.AttributeValue{":prev": ds.S(old.UpdatedAt)}
		i := 0
		for k, v := range item {
			switch k {
			case ds.PK, ds.SK, "gen", "nextRowId", "rows", "id", "createdAt", "workspaceId":
				continue
			}
			i++
			names["#a"+strconv.Itoa(i)] = k
			values[":v"+strconv.Itoa(i)] = v
			sets = append(sets, "#a"+strconv.Itoa(i)+" = :v"+strconv.Itoa(i))
		}
		names["#u"] = "updatedAt"
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: tableKey(bot, t.Name),
			UpdateExpression: aws.String("SET " + strings.Join(sets, ", ")), ConditionExpression: aws.String("attribute_exists(pk) AND #u = :prev"),
			ExpressionAttributeNames: names, ExpressionAttributeValues: values})
		if ds.IsConditionFailed(err) {
			return changed()
		}
		return err
	}
	cond, values := sameCounters(old)
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &s.table, Key: tableKey(bot, old.Name), ConditionExpression: &cond,
			ExpressionAttributeNames: map[string]string{"#rows": "rows"}, ExpressionAttributeValues: values}},
		{Put: &types.Put{TableName: &s.table, Item: tableItem(bot, t), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Put: &types.Put{TableName: &s.table, Item: ds.Item(struct {
			Name string `json:"name"`
		}{t.Name}, keysOf(tableIDKey(bot, t.ID)))}},
	}})
	switch reasons := ds.CancellationReasons(err); {
	case err == nil:
		return nil
	case len(reasons) == 3 && reasons[1] == "ConditionalCheckFailed":
		return apperr.New(apperr.AlreadyExists, "a table named %q already exists", t.Name)
	case len(reasons) == 3 && reasons[0] == "ConditionalCheckFailed":
		return changed()
	}
	return err
}

// DeleteTable removes a table from every read at once: one transaction
// deletes its items, lowers the bot's table count and the workspace's row
// count, and leaves its rows partition to the lifecycle (a gone marker and
// intent, the erase intent built for the partition name).
func (s *Store) DeleteTable(ctx context.Context, bot string, t Table, intent func(part string) types.TransactWriteItem) error {
	for attempt := 0; ; attempt++ {
		cond, values := sameCounters(t)
		items := []types.TransactWriteItem{
			{Delete: &types.Delete{TableName: &s.table, Key: tableKey(bot, t.Name), ConditionExpression: &cond,
				ExpressionAttributeNames: map[string]string{"#rows": "rows"}, ExpressionAttributeValues: values}},
			{Delete: &types.Delete{TableName: &s.table, Key: tableIDKey(bot, t.ID)}},
			{Update: &types.Update{TableName: &s.table, Key: tableCountKey(bot), UpdateExpression: aws.String("ADD #t :m"), ExpressionAttributeNames: map[string]string{"#t": "tables"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":m": n(-1)}}},
			s.gone(bot, t.Part(), t.UpdatedAt),
		}
		if c := s.rowCount(t, -t.Rows); c != nil {
			items = append(items, *c)
		}
		if intent != nil {
			items = append(items, intent(t.Part()))
		}
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil || attempt == 4 || !isFirstFailed(err) {
			return err
		}
		if t, err = s.Table(ctx, bot, t.ID); err != nil {
			return err
		}
	}
}

// ClearRows deletes every row of a table at once: the table moves to a new
// generation (ids go on increasing) and the old partition is left to the
// lifecycle. It answers how many rows were deleted.
func (s *Store) ClearRows(ctx context.Context, bot string, t Table, at string, intent func(part string) types.TransactWriteItem) (int64, error) {
	for attempt := 0; ; attempt++ {
		cond, values := sameCounters(t)
		values[":one"] = n(1)
		values[":zero"] = n(0)
		items := []types.TransactWriteItem{
			{Update: &types.Update{TableName: &s.table, Key: tableKey(bot, t.Name), ConditionExpression: &cond,
				UpdateExpression:         aws.String("SET #rows = :zero ADD gen :one"),
				ExpressionAttributeNames: map[string]string{"#rows": "rows"}, ExpressionAttributeValues: values}},
			s.gone(bot, t.Part(), at),
		}
		if c := s.rowCount(t, -t.Rows); c != nil {
			items = append(items, *c)
		}
		if intent != nil {
			items = append(items, intent(t.Part()))
		}
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return t.Rows, nil
		}
		if attempt == 4 || !isFirstFailed(err) {
			return 0, err
		}
		if t, err = s.Table(ctx, bot, t.ID); err != nil {
			return 0, err
		}
	}
}

func isFirstFailed(err error) bool {
	r := ds.CancellationReasons(err)
	return len(r) > 0 && r[0] == "ConditionalCheckFailed"
}

func (s *Store) gone(bot, part, at string) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: ds.Item(struct {
		At string `json:"at"`
	}{at}, keysOf(goneKey(bot, part)))}}
}

// rowCount is the update of the workspace's row counter by delta rows of
// t (× its factor), or nil when there is nothing to count.
func (s *Store) rowCount(t Table, delta int64) *types.TransactWriteItem {
	if t.WorkspaceID == "" || delta == 0 {
		return nil
	}
	return &types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: rowCounterKey(t.WorkspaceID),
		UpdateExpression: aws.String("ADD #rows :d"), ExpressionAttributeNames: map[string]string{"#rows": "rows"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": n(delta * int64(max(t.Factor, 1)))}}}
}

// WorkspaceRows reads a workspace's row count (rows × factor): one GetItem.
func (s *Store) WorkspaceRows(ctx context.Context, ws string) (int64, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: rowCounterKey(ws), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		return 0, err
	}
	v, _ := out.Item["rows"].(*types.AttributeValueMemberN)
	if v == nil {
		return 0, nil
	}
	return strconv.ParseInt(v.Value, 10, 64)
}
