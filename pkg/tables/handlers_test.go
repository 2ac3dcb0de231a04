package tables

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
)

// Handler unit tests: no emulator; the store, the quotas and the lifecycle
// are fakes (structs of functions). A method a test does not set panics
// through the nil embedded interface, so an unexpected call fails it.

type fakeStore struct {
	Store
	createTable func(bot string, t Table, maxTables int) error
	table       func(bot, ref string) (Table, error)
	reserve     func(t Table, count, maxRows int64) (int64, error)
	write       func(t Table, changes []Change) (map[int]error, error)
	uncount     func(t Table, count int64) error
	scan        func(t Table, plan Plan, each func(Row) (bool, error)) (int, error)
	rows        func(t Table, ids []int64) (map[int64]Row, error)
	deleteTable func(t Table, intent func(string) types.TransactWriteItem) error
	updateTable func(old, t Table) error
}

func (f *fakeStore) CreateTable(_ context.Context, bot string, t Table, maxTables int) error {
	return f.createTable(bot, t, maxTables)
}
func (f *fakeStore) Table(_ context.Context, bot, ref string) (Table, error) {
	return f.table(bot, ref)
}
func (f *fakeStore) ReserveRows(_ context.Context, _ string, t Table, count, maxRows int64) (int64, error) {
	return f.reserve(t, count, maxRows)
}
func (f *fakeStore) WriteRows(_ context.Context, _ string, t Table, changes []Change) (map[int]error, error) {
	return f.write(t, changes)
}
func (f *fakeStore) Uncount(_ context.Context, _ string, t Table, count int64) error {
	return f.uncount(t, count)
}
func (f *fakeStore) Scan(_ context.Context, _ string, t Table, plan Plan, each func(Row) (bool, error)) (int, error) {
	return f.scan(t, plan, each)
}
func (f *fakeStore) Rows(_ context.Context, _ string, t Table, ids []int64) (map[int64]Row, error) {
	return f.rows(t, ids)
}
func (f *fakeStore) DeleteTable(_ context.Context, _ string, t Table, intent func(string) types.TransactWriteItem) error {
	return f.deleteTable(t, intent)
}
func (f *fakeStore) UpdateTable(_ context.Context, _ string, old, t Table) error {
	return f.updateTable(old, t)
}

type fakeQuotas func(ws string) (int, int64, error)

func (f fakeQuotas) TableQuotas(_ context.Context, ws string) (int, int64, error) { return f(ws) }

type fakeEraser struct {
	kicked []string
}

func (f *fakeEraser) EraseIntent(bot, kind, id string, _ time.Time) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{ConditionExpression: &id}}
}
func (f *fakeEraser) Kick(_ context.Context, bot, kind, id string) error {
	f.kicked = append(f.kicked, kind+":"+id)
	return errors.New("queue down") // logged; the window erases it
}

var now = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

func testAPI(s Store, e Eraser) *API {
	return NewAPI(s, nil, &clock.Fixed{T: now}, Deps{Eraser: e, Quotas: fakeQuotas(func(ws string) (int, int64, error) {
		if ws != "ws_1" {
			return 0, 0, errors.New("wrong workspace")
		}
		return 10, 5000, nil
	})})
}

func call(h httpapi.Handler, method, path string, body any, table string) (httpapi.Response, error) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	r := httptest.NewRequest(method, path, rd)
	r.Header.Set("Content-Type", "application/json")
	r.SetPathValue("table", table)
	return h(r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{BotID: "bot_1", WorkspaceID: "ws_1"})))
}

func itemsTable(t *testing.T) Table {
	t.Helper()
	parsed, _, err := parseSchema(map[string]any{"sku": map[string]any{"type": "string"}, "qty": map[string]any{"type": "number", "x-parley": map[string]any{"index": true}}})
	if err != nil {
		t.Fatal(err)
	}
	cols, next, err := columnsOf(parsed, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	tbl := Table{ID: "table_1", Name: "itemsTable", Factor: 1, Columns: cols, NextColumn: next, WorkspaceID: "ws_1"}
	c, _ := tbl.Named("sku")
	tbl.KeyColumn = c.ID
	return tbl
}

func TestCreateTableQuota(t *testing.T) {
	s := &fakeStore{createTable: func(bot string, tb Table, max int) error {
		if bot != "bot_1" || max != 10 || tb.WorkspaceID != "ws_1" || !strings.HasPrefix(tb.ID, "table_") || len(tb.Columns) != 1 {
			return errors.New("unexpected table")
		}
		return apperr.New(apperr.QuotaExceeded, "quota")
	}}
	_, err := call(testAPI(s, nil).createTable, "POST", "/v1/tables", map[string]any{"name": "aTable", "schema": map[string]any{"a": map[string]any{"type": "string"}}}, "")
	if !apperr.Is(err, apperr.QuotaExceeded) {
		t.Fatalf("got %v, want QuotaExceeded", err)
	}
}

// Invalid rows are reported and not written; valid ones are, with ids
// from the reservation; a key taken meanwhile fails its row only and is
// uncounted.
func TestCreateRowsPartial(t *testing.T) {
	tbl := itemsTable(t)
	var uncounted int64
	s := &fakeStore{
		table: func(bot, ref string) (Table, error) { return tbl, nil },
		reserve: func(_ Table, count, maxRows int64) (int64, error) {
			if count != 2 || maxRows != 5000 {
				return 0, errors.New("unexpected reservation")
			}
			return 7, nil
		},
		write: func(_ Table, changes []Change) (map[int]error, error) {
			if len(changes) != 2 || changes[0].New.ID != 7 || changes[1].New.ID != 8 {
				return nil, errors.New("unexpected changes")
			}
			return map[int]error{1: errors.New("keyColumn value already used by another row")}, nil
		},
		uncount: func(_ Table, n int64) error { uncounted = n; return nil },
	}
	res, err := call(testAPI(s, nil).createRows, "POST", "/", map[string]any{"rows": []any{
		map[string]any{"sku": "a", "qty": 1}, map[string]any{"sku": "b", "qty": "x"}, map[string]any{"sku": "c"}, map[string]any{"sku": "a"},
	}}, "itemsTable")
	if err != nil {
		t.Fatal(err)
	}
	body := res.Body.(map[string]any)
	errs := strings.Join(body["errors"].([]string), "|")
	if n := len(body["rows"].([]map[string]any)); n != 1 || uncounted != 1 ||
		!strings.Contains(errs, "rows[1].qty") || !strings.Contains(errs, "rows[3].sku: repeats") || !strings.Contains(errs, "rows[2].sku: keyColumn value already used") {
		t.Fatalf("rows %d, uncounted %d, errors %s", n, uncounted, errs)
	}
}

// A filter on the indexed column reads through its index; one on an
// unknown operator is refused before any read.
func TestFindPlans(t *testing.T) {
	tbl := itemsTable(t)
	qty, _ := tbl.Named("qty")
	var got Plan
	s := &fakeStore{
		table: func(string, string) (Table, error) { return tbl, nil },
		scan: func(_ Table, p Plan, each func(Row) (bool, error)) (int, error) {
			got = p
			for i := int64(1); i <= 3; i++ {
				if more, _ := each(Row{ID: i, Data: map[string]any{qty.ID: 5.0}}); !more {
					break
				}
			}
			return 3, nil
		},
	}
	a := testAPI(s, nil)
	res, err := call(a.findRows, "POST", "/", map[string]any{"filter": map[string]any{"qty": 5}, "limit": 2}, "itemsTable")
	if err != nil {
		t.Fatal(err)
	}
	body := res.Body.(map[string]any)
	if got.Column != qty.ID || len(got.Values) != 1 || len(body["rows"].([]map[string]any)) != 2 || body["hasMore"] != true {
		t.Fatalf("plan %+v, body %v", got, body)
	}
	_, err = call(a.findRows, "POST", "/", map[string]any{"filter": map[string]any{"qty": map[string]any{"$elemMatch": 1}}}, "itemsTable")
	if !apperr.Is(err, apperr.InvalidQuery) || !strings.Contains(err.Error(), "$elemMatch") {
		t.Fatalf("unknown operator: %v", err)
	}
}

// Deleting a table records the erase intent in its transaction; a failed
// kick is not the client's failure.
func TestDeleteTableKick(t *testing.T) {
	tbl := itemsTable(t)
	e := &fakeEraser{}
	s := &fakeStore{
		table: func(string, string) (Table, error) { return tbl, nil },
		deleteTable: func(_ Table, intent func(string) types.TransactWriteItem) error {
			if *intent(tbl.Part()).ConditionCheck.ConditionExpression != tbl.Part() {
				return errors.New("no intent")
			}
			return nil
		},
	}
	if _, err := call(testAPI(s, e).deleteTable, "DELETE", "/", nil, "itemsTable"); err != nil || len(e.kicked) != 1 || e.kicked[0] != "table:"+tbl.Part() {
		t.Fatalf("err %v, kicked %v", err, e.kicked)
	}
}

// A frozen table refuses a rename and a schema change.
func TestFrozen(t *testing.T) {
	tbl := itemsTable(t)
	tbl.Frozen = true
	s := &fakeStore{table: func(string, string) (Table, error) { return tbl, nil }}
	a := testAPI(s, nil)
	if _, err := call(a.updateTable, "PUT", "/", map[string]any{"name": "otherTable"}, "itemsTable"); !apperr.Is(err, apperr.ResourceLockedConflict) {
		t.Fatalf("rename: %v", err)
	}
	if _, err := call(a.updateTable, "PUT", "/", map[string]any{"schema": map[string]any{"z": map[string]any{"type": "string"}}}, "itemsTable"); !apperr.Is(err, apperr.ResourceLockedConflict) {
		t.Fatalf("schema: %v", err)
	}
	if _, err := call(a.renameColumn, "PUT", "/", map[string]any{"name": "sku", "newName": "code"}, "itemsTable"); !apperr.Is(err, apperr.ResourceLockedConflict) {
		t.Fatalf("rename column: %v", err)
	}
}

func TestSchemaNames(t *testing.T) {
	for name, ok := range map[string]bool{"ordersTable": true, "_xTable": true, "$aTable": true, "Table": false, "orders": false,
		"1Table": false, "a-bTable": false, strings.Repeat("a", 31) + "Table": false} {
		if err := checkTableName(name); (err == nil) != ok {
			t.Errorf("%q: %v", name, err)
		}
	}
}
