package tables_test

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/parley-dev/parley/pkg/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type R = testenv.Req

var (
	want      = testenv.Want
	wantCalls = testenv.WantCalls
)

const botAuth = 2

type fixture struct {
	env   *testenv.Env
	token string
	ws    string
	bot   string
}

func newBot(t testing.TB, env *testenv.Env, token string) fixture {
	t.Helper()
	ws := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: token, Body: map[string]any{"name": "w"}})
	want(t, ws, 200, "")
	f := fixture{env: env, token: token, ws: ws.Body["id"].(string)}
	bot := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: token, Headers: map[string]string{"x-workspace-id": f.ws}, Body: map[string]any{"name": "b"}})
	want(t, bot, 200, "")
	f.bot = bot.Body["bot"].(map[string]any)["id"].(string)
	return f
}

func (f fixture) do(t testing.TB, method, path string, body any) testenv.Response {
	t.Helper()
	return f.env.Do(t, R{Method: method, Path: path, Token: f.token, Headers: map[string]string{"x-bot-id": f.bot}, Body: body})
}

func ordersSchema() map[string]any {
	return map[string]any{"type": "object", "properties": map[string]any{
		"sku":      map[string]any{"type": "string", "x-zui": map[string]any{"index": 0}},
		"customer": map[string]any{"type": "string", "x-zui": map[string]any{"index": 1}, "x-parley": map[string]any{"index": true}},
		"amount":   map[string]any{"type": "number", "x-zui": map[string]any{"index": 2}},
		"note":     map[string]any{"type": "string", "x-zui": map[string]any{"index": 3, "searchable": true}},
		"placedAt": map[string]any{"type": "string", "format": "date-time", "x-zui": map[string]any{"index": 4}},
	}, "additionalProperties": true}
}

func rows(res testenv.Response, key string) []map[string]any {
	var out []map[string]any
	for _, r := range res.Body[key].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

func ids(rs []map[string]any) []int {
	var out []int
	for _, r := range rs {
		out = append(out, int(r["id"].(float64)))
	}
	return out
}

func TestTableLifecycle(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))

	created := f.do(t, "POST", "/v1/tables", map[string]any{"name": "ordersTable", "schema": ordersSchema(), "keyColumn": "sku", "tags": map[string]any{"team": "sales"}})
	want(t, created, 200, "")
	wantCalls(t, created, botAuth, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1")
	tbl := created.Body["table"].(map[string]any)
	tid := tbl["id"].(string)
	if tbl["keyColumn"] != "sku" || tbl["isComputeEnabled"] != false || tbl["factor"] != 1.0 {
		t.Fatalf("table %v", tbl)
	}
	props := tbl["schema"].(map[string]any)["properties"].(map[string]any)
	if _, leaked := props["customer"].(map[string]any)["x-parley"]; leaked || props["amount"].(map[string]any)["x-zui"].(map[string]any)["index"] != 2.0 {
		t.Fatalf("schema answered %v", props)
	}
	want(t, f.do(t, "POST", "/v1/tables", map[string]any{"name": "ordersTable", "schema": ordersSchema()}), 409, "AlreadyExists")

	for _, ref := range []string{"ordersTable", tid} {
		got := f.do(t, "GET", "/v1/tables/"+ref, nil)
		want(t, got, 200, "")
		if got.Body["table"].(map[string]any)["id"] != tid || got.Body["rows"] != 0.0 || got.Body["indexing"] != 0.0 {
			t.Fatalf("getTable %s: %s", ref, got.Raw)
		}
	}
	wantCalls(t, f.do(t, "GET", "/v1/tables/ordersTable", nil), botAuth, "DynamoDB.GetItem=1")
	goc := f.do(t, "POST", "/v1/tables/ordersTable", map[string]any{"schema": ordersSchema()})
	want(t, goc, 200, "")
	if goc.Body["created"] != false {
		t.Fatalf("getOrCreate of an existing table: %s", goc.Raw)
	}
	goc = f.do(t, "POST", "/v1/tables/notesTable", map[string]any{"schema": map[string]any{"text": map[string]any{"type": "string"}}})
	want(t, goc, 200, "")
	if goc.Body["created"] != true {
		t.Fatalf("getOrCreate of a new table: %s", goc.Raw)
	}
	list := f.do(t, "GET", "/v1/tables?tags.team=sales", nil)
	want(t, list, 200, "")
	if n := len(list.Body["tables"].([]any)); n != 1 {
		t.Fatalf("tag filter listed %d tables", n)
	}

	// Rows: valid ones written, invalid ones reported and not written.
	res := f.do(t, "POST", "/v1/tables/ordersTable/rows", map[string]any{"rows": []any{
		map[string]any{"sku": "A1", "customer": "ann", "amount": 10, "note": "red running shoes", "placedAt": "2026-05-01T10:00:00.000Z"},
		map[string]any{"sku": "A2", "customer": "bob", "amount": "ten"},
		map[string]any{"sku": "A3", "customer": "ann", "amount": 30, "note": "blue winter coat", "extra": 1},
		map[string]any{"sku": "A1", "customer": "cid", "amount": 5},
		map[string]any{"sku": "A4", "customer": "cid", "amount": 7, "placedAt": "yesterday"},
	}})
	want(t, res, 200, "")
	created2 := rows(res, "rows")
	errs := fmt.Sprint(res.Body["errors"])
	if got := ids(created2); len(got) != 2 || got[0] != 1 || got[1] != 2 ||
		!strings.Contains(errs, "rows[1].amount") || !strings.Contains(errs, "rows[3]") || !strings.Contains(errs, "rows[4].placedAt") {
		t.Fatalf("createTableRows: %s", res.Raw)
	}
	if !strings.Contains(fmt.Sprint(res.Body["warnings"]), "extra") {
		t.Fatalf("no warning for an unknown column: %s", res.Raw)
	}
	// GetItem (table) + GetItem (workspace plan) + UpdateItem (workspace
	// rows, quota) + UpdateItem (ids) + TransactWriteItems (rows + claims).
	wantCalls(t, res, botAuth, "DynamoDB.GetItem=2,DynamoDB.TransactWriteItems=1,DynamoDB.UpdateItem=2")

	row := f.do(t, "GET", "/v1/tables/ordersTable/row?id=1", nil)
	want(t, row, 200, "")
	wantCalls(t, row, botAuth, "DynamoDB.GetItem=2")
	if r := row.Body["row"].(map[string]any); r["sku"] != "A1" || r["amount"] != 10.0 {
		t.Fatalf("row %v", r)
	}
	want(t, f.do(t, "GET", "/v1/tables/ordersTable/row?id=99", nil), 404, "ResourceNotFound")

	// Update (partial) and a key taken by another row.
	up := f.do(t, "PUT", "/v1/tables/ordersTable/rows", map[string]any{"rows": []any{
		map[string]any{"id": 1, "amount": 12},
		map[string]any{"id": 2, "sku": "A1"},
	}})
	want(t, up, 200, "")
	if got := rows(up, "rows"); len(got) != 1 || got[0]["amount"] != 12.0 || got[0]["note"] != "red running shoes" ||
		!strings.Contains(fmt.Sprint(up.Body["errors"]), "rows[1].sku") {
		t.Fatalf("updateTableRows: %s", up.Raw)
	}

	// Upsert by the key column: one update, one insert.
	ups := f.do(t, "POST", "/v1/tables/ordersTable/rows/upsert", map[string]any{"rows": []any{
		map[string]any{"sku": "A3", "amount": 31},
		map[string]any{"sku": "B1", "customer": "dan", "amount": 1},
	}})
	want(t, ups, 200, "")
	if len(rows(ups, "updated")) != 1 || len(rows(ups, "inserted")) != 1 || rows(ups, "updated")[0]["id"] != 2.0 {
		t.Fatalf("upsert: %s", ups.Raw)
	}

	// Find: filter on the indexed column, order, select, group, search.
	find := func(body map[string]any) testenv.Response {
		t.Helper()
		res := f.do(t, "POST", "/v1/tables/ordersTable/rows/find", body)
		want(t, res, 200, "")
		return res
	}
	got := find(map[string]any{"filter": map[string]any{"customer": "ann"}, "select": []any{"sku"}})
	if rs := rows(got, "rows"); len(rs) != 2 || rs[0]["amount"] != nil || rs[0]["sku"] != "A1" {
		t.Fatalf("find by customer: %s", got.Raw)
	}
	got = find(map[string]any{"filter": map[string]any{"amount": map[string]any{"$gte": 10}}, "orderBy": "amount", "orderDirection": "desc"})
	if fmt.Sprint(ids(rows(got, "rows"))) != "[2 1]" {
		t.Fatalf("find by amount desc: %s", got.Raw)
	}
	got = find(map[string]any{"filter": map[string]any{"$or": []any{map[string]any{"sku": map[string]any{"$regex": "^b", "$options": "i"}}, map[string]any{"id": 1}}}})
	if fmt.Sprint(ids(rows(got, "rows"))) != "[1 3]" {
		t.Fatalf("find with $or and $regex: %s", got.Raw)
	}
	got = find(map[string]any{"limit": 1, "offset": 1})
	if fmt.Sprint(ids(rows(got, "rows"))) != "[2]" || got.Body["hasMore"] != true {
		t.Fatalf("find page: %s", got.Raw)
	}
	got = find(map[string]any{"group": map[string]any{"customer": "key", "amount": []any{"sum", "avg", "count"}}})
	gr := rows(got, "rows")
	if len(gr) != 2 || gr[0]["customerKey"] != "ann" || gr[0]["amountSum"] != 43.0 || gr[0]["amountAvg"] != 21.5 || gr[1]["amountCount"] != 1.0 {
		t.Fatalf("group: %s", got.Raw)
	}
	got = find(map[string]any{"search": "running shoes"})
	sr := rows(got, "rows")
	if len(sr) != 3 || sr[0]["id"] != 1.0 || sr[0]["similarity"].(float64) <= sr[1]["similarity"].(float64) {
		t.Fatalf("search: %s", got.Raw)
	}
	want(t, f.do(t, "POST", "/v1/tables/ordersTable/rows/find", map[string]any{"filter": map[string]any{"amount": map[string]any{"$near": 1}}}), 400, "InvalidQuery")
	want(t, f.do(t, "POST", "/v1/tables/ordersTable/rows/find", map[string]any{"filter": map[string]any{"nope": 1}}), 400, "InvalidQuery")

	// Rename a column: rows keep their values.
	ren := f.do(t, "PUT", "/v1/tables/ordersTable/column", map[string]any{"name": "amount", "newName": "total"})
	want(t, ren, 200, "")
	wantCalls(t, ren, botAuth, "DynamoDB.GetItem=1,DynamoDB.UpdateItem=1")
	if r := f.do(t, "GET", "/v1/tables/ordersTable/row?id=1", nil).Body["row"].(map[string]any); r["total"] != 12.0 {
		t.Fatalf("after rename: %v", r)
	}

	// Duplicate with content, then schema only.
	dup := f.do(t, "POST", "/v1/tables/"+tid+"/duplicate", map[string]any{"tableName": "ordersCopyTable"})
	want(t, dup, 200, "")
	if dup.Body["rows"] != 3.0 {
		t.Fatalf("duplicate: %s", dup.Raw)
	}
	if r := f.do(t, "POST", "/v1/tables/ordersCopyTable/rows/find", map[string]any{"filter": map[string]any{"customer": "ann"}}); len(rows(r, "rows")) != 2 {
		t.Fatalf("duplicate's index: %s", r.Raw)
	}
	dupUp := f.do(t, "POST", "/v1/tables/ordersCopyTable/rows/upsert", map[string]any{"rows": []any{map[string]any{"sku": "A1", "total": 99}}})
	if len(rows(dupUp, "updated")) != 1 {
		t.Fatalf("duplicate's key: %s", dupUp.Raw)
	}
	so := f.do(t, "POST", "/v1/tables/ordersTable/duplicate", map[string]any{"tableName": "emptyTable", "schemaOnly": true})
	want(t, so, 200, "")
	if so.Body["rows"] != 0.0 {
		t.Fatalf("schema-only duplicate: %s", so.Raw)
	}

	// Frozen tables refuse schema and name changes.
	want(t, f.do(t, "PUT", "/v1/tables/emptyTable", map[string]any{"frozen": true}), 200, "")
	want(t, f.do(t, "PUT", "/v1/tables/emptyTable", map[string]any{"name": "otherTable"}), 409, "ResourceLockedConflict")
	want(t, f.do(t, "PUT", "/v1/tables/emptyTable/column", map[string]any{"name": "sku", "newName": "code"}), 409, "ResourceLockedConflict")

	// Rename a table; its rows follow.
	want(t, f.do(t, "PUT", "/v1/tables/ordersCopyTable", map[string]any{"name": "archiveTable"}), 200, "")
	if r := f.do(t, "GET", "/v1/tables/archiveTable", nil); r.Body["rows"] != 3.0 {
		t.Fatalf("renamed table: %s", r.Raw)
	}

	// Deletes: by ids, by filter, all.
	del := f.do(t, "POST", "/v1/tables/archiveTable/rows/delete", map[string]any{"ids": []any{1, 42}})
	want(t, del, 200, "")
	if del.Body["deletedRows"] != 1.0 {
		t.Fatalf("delete by ids: %s", del.Raw)
	}
	del = f.do(t, "POST", "/v1/tables/archiveTable/rows/delete", map[string]any{"filter": map[string]any{"customer": "ann"}})
	if del.Body["deletedRows"] != 1.0 {
		t.Fatalf("delete by filter: %s", del.Raw)
	}
	del = f.do(t, "POST", "/v1/tables/ordersTable/rows/delete", map[string]any{"deleteAllRows": true})
	if del.Body["deletedRows"] != 3.0 {
		t.Fatalf("delete all: %s", del.Raw)
	}
	after := f.do(t, "POST", "/v1/tables/ordersTable/rows", map[string]any{"rows": []any{map[string]any{"sku": "A1"}}})
	if ids(rows(after, "rows"))[0] != 4 {
		t.Fatalf("ids after deleteAllRows: %s", after.Raw)
	}
	if r := f.do(t, "GET", "/v1/tables/ordersTable", nil); r.Body["rows"] != 1.0 {
		t.Fatalf("rows after deleteAllRows: %s", r.Raw)
	}
	want(t, f.do(t, "DELETE", "/v1/tables/archiveTable", nil), 200, "")
	want(t, f.do(t, "GET", "/v1/tables/archiveTable", nil), 404, "ResourceNotFound")
}

func TestBadInputWritesNothing(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	cases := []struct {
		body    map[string]any
		errType string
	}{
		{map[string]any{"name": "bad", "schema": ordersSchema()}, "InvalidPayload"},
		{map[string]any{"name": "1Table", "schema": ordersSchema()}, "InvalidPayload"},
		{map[string]any{"name": "aVeryLongNameThatGoesOnAndOnForeverTable", "schema": ordersSchema()}, "InvalidPayload"},
		{map[string]any{"name": "xTable", "schema": map[string]any{"a": map[string]any{"type": "integer"}}}, "InvalidJsonSchema"},
		{map[string]any{"name": "xTable", "schema": map[string]any{"a": map[string]any{"type": "string", "pattern": "("}}}, "InvalidJsonSchema"},
		{map[string]any{"name": "xTable", "schema": map[string]any{"a": map[string]any{"type": "string", "x-zui": map[string]any{"index": 0, "computed": map[string]any{"action": "ai"}}}}}, "InvalidPayload"},
		{map[string]any{"name": "xTable", "schema": map[string]any{"id": map[string]any{"type": "string"}}}, "InvalidPayload"},
		{map[string]any{"name": "xTable", "schema": ordersSchema(), "factor": 31}, "InvalidPayload"},
		{map[string]any{"name": "xTable", "schema": ordersSchema(), "isComputeEnabled": true}, "InvalidPayload"},
	}
	for _, c := range cases {
		want(t, f.do(t, "POST", "/v1/tables", c.body), 400, c.errType)
	}
	many := map[string]any{}
	for i := 0; i < 21; i++ {
		many[fmt.Sprintf("c%d", i)] = map[string]any{"type": "string"}
	}
	want(t, f.do(t, "POST", "/v1/tables", map[string]any{"name": "wideTable", "schema": many}), 400, "InvalidPayload")
	if l := f.do(t, "GET", "/v1/tables", nil); len(l.Body["tables"].([]any)) != 0 {
		t.Fatalf("a refused table was written: %s", l.Raw)
	}
	want(t, f.do(t, "POST", "/v1/tables", map[string]any{"name": "smallTable", "schema": map[string]any{"text": map[string]any{"type": "string"}}}), 200, "")
	big := f.do(t, "POST", "/v1/tables/smallTable/rows", map[string]any{"rows": []any{map[string]any{"text": strings.Repeat("x", 5000)}}})
	want(t, big, 200, "")
	if len(rows(big, "rows")) != 0 || !strings.Contains(fmt.Sprint(big.Body["errors"]), "at most 4096") {
		t.Fatalf("oversize row: %s", big.Raw)
	}
	if r := f.do(t, "GET", "/v1/tables/smallTable", nil); r.Body["rows"] != 0.0 {
		t.Fatalf("an oversize row was written: %s", r.Raw)
	}
	want(t, f.do(t, "POST", "/v1/tables/smallTable/rows", map[string]any{"rows": []any{}}), 400, "InvalidPayload")
	want(t, f.do(t, "POST", "/v1/tables/smallTable/rows/delete", map[string]any{}), 400, "InvalidPayload")
}

func TestTenancy(t *testing.T) {
	env := testenv.Stack(t)
	a := newBot(t, env, env.NewAccount(t))
	b := newBot(t, env, env.NewAccount(t))
	res := a.do(t, "POST", "/v1/tables", map[string]any{"name": "secretTable", "schema": map[string]any{"v": map[string]any{"type": "string"}}})
	want(t, res, 200, "")
	tid := res.Body["table"].(map[string]any)["id"].(string)
	want(t, a.do(t, "POST", "/v1/tables/secretTable/rows", map[string]any{"rows": []any{map[string]any{"v": "x"}}}), 200, "")
	for _, ref := range []string{"secretTable", tid} {
		want(t, b.do(t, "GET", "/v1/tables/"+ref, nil), 404, "ResourceNotFound")
		want(t, b.do(t, "GET", "/v1/tables/"+ref+"/row?id=1", nil), 404, "ResourceNotFound")
		want(t, b.do(t, "POST", "/v1/tables/"+ref+"/rows/find", map[string]any{}), 404, "ResourceNotFound")
		want(t, b.do(t, "PUT", "/v1/tables/"+ref+"/rows", map[string]any{"rows": []any{map[string]any{"id": 1, "v": "y"}}}), 404, "ResourceNotFound")
		want(t, b.do(t, "DELETE", "/v1/tables/"+ref, nil), 404, "ResourceNotFound")
	}
	// Another account's token on a's bot: 403.
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/tables", Token: b.token, Headers: map[string]string{"x-bot-id": a.bot}}), 403, "Forbidden")
	if r := a.do(t, "GET", "/v1/tables/secretTable/row?id=1", nil); r.Body["row"].(map[string]any)["v"] != "x" {
		t.Fatalf("a's row changed: %s", r.Raw)
	}
}

func TestQuotas(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	schema := map[string]any{"v": map[string]any{"type": "string"}}
	for i := 0; i < 10; i++ {
		want(t, f.do(t, "POST", "/v1/tables", map[string]any{"name": fmt.Sprintf("t%dTable", i), "schema": schema}), 200, "")
	}
	want(t, f.do(t, "POST", "/v1/tables", map[string]any{"name": "extraTable", "schema": schema}), 403, "QuotaExceeded")
	want(t, f.do(t, "DELETE", "/v1/tables/t9Table", nil), 200, "")
	// Rows × factor: the community plan holds 5,000 rows.
	want(t, f.do(t, "POST", "/v1/tables", map[string]any{"name": "bigTable", "schema": schema, "factor": 3}), 200, "")
	batch := make([]any, 1000)
	for i := range batch {
		batch[i] = map[string]any{"v": "x"}
	}
	want(t, f.do(t, "POST", "/v1/tables/bigTable/rows", map[string]any{"rows": batch}), 200, "")
	over := f.do(t, "POST", "/v1/tables/bigTable/rows", map[string]any{"rows": batch})
	want(t, over, 403, "QuotaExceeded")
	if r := f.do(t, "GET", "/v1/tables/bigTable", nil); r.Body["rows"] != 1000.0 {
		t.Fatalf("rows after a refused write: %s", r.Raw)
	}
	want(t, f.do(t, "POST", "/v1/tables/bigTable/rows/delete", map[string]any{"deleteAllRows": true}), 200, "")
	want(t, f.do(t, "POST", "/v1/tables/bigTable/rows", map[string]any{"rows": batch}), 200, "")
}

// Row ids, counters and key uniqueness under 10 concurrent writers.
func TestConcurrentWriters(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	want(t, f.do(t, "POST", "/v1/tables", map[string]any{"name": "usersTable", "keyColumn": "email",
		"schema": map[string]any{"email": map[string]any{"type": "string"}, "n": map[string]any{"type": "number"}}}), 200, "")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var all []int
	for w := 0; w < 10; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var batch []any
			for i := 0; i < 5; i++ {
				batch = append(batch, map[string]any{"email": fmt.Sprintf("w%d-%d@x.io", w, i), "n": w})
			}
			res := f.do(t, "POST", "/v1/tables/usersTable/rows", map[string]any{"rows": batch})
			up := f.do(t, "POST", "/v1/tables/usersTable/rows/upsert", map[string]any{"rows": []any{map[string]any{"email": "same@x.io", "n": w}}})
			mu.Lock()
			defer mu.Unlock()
			if res.Status != 200 || up.Status != 200 {
				t.Errorf("writer %d: %s %s", w, res.Raw, up.Raw)
				return
			}
			all = append(all, ids(rows(res, "rows"))...)
		}(w)
	}
	wg.Wait()
	sort.Ints(all)
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			t.Fatalf("row id %d given twice", all[i])
		}
	}
	same := f.do(t, "POST", "/v1/tables/usersTable/rows/find", map[string]any{"filter": map[string]any{"email": "same@x.io"}})
	if n := len(rows(same, "rows")); n != 1 || len(all) != 50 {
		t.Fatalf("%d rows for one key, %d rows created", n, len(all))
	}
	if r := f.do(t, "GET", "/v1/tables/usersTable", nil); r.Body["rows"] != 51.0 {
		t.Fatalf("row count %v, want 51", r.Body["rows"])
	}
}
