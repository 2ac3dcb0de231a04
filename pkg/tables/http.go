// Package tables serves the Botpress Tables API (/v1/tables/*, scope
// x-bot-id): typed tables with JSON Schema validated rows, the filter
// language of pkg/rowfilter, grouping, search over searchable columns and
// upserts by key. It keeps nothing itself: the tables table's owner
// (pkg/tabledata) stores, through the interfaces of store.go.
package tables

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/search"
	"github.com/parley-dev/parley/pkg/tabledata"
)

// API serves the tables routes.
type API struct {
	store  Store
	auth   *auth.Authenticator
	clock  clock.Clock
	quotas Quotas
	eraser Eraser
	embed  search.Embedder
	log    *slog.Logger
}

// Deps are what the API reaches beyond its table.
type Deps struct {
	Quotas   Quotas
	Eraser   Eraser
	Embedder search.Embedder
	Log      *slog.Logger
}

// NewAPI returns the tables API.
func NewAPI(store Store, a *auth.Authenticator, c clock.Clock, d Deps) *API {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Embedder == nil {
		d.Embedder = search.Local{}
	}
	return &API{store: store, auth: a, clock: c, quotas: d.Quotas, eraser: d.Eraser, embed: d.Embedder, log: d.Log}
}

// Register adds the tables routes to rt.
func (a *API) Register(rt *httpapi.Router) {
	read := a.auth.Require(auth.Bot, auth.TablesRead)
	write := a.auth.Require(auth.Bot, auth.TablesWrite)
	rt.Handle("GET", "/v1/tables", a.listTables, read)
	rt.Handle("POST", "/v1/tables", a.createTable, write)
	rt.Handle("GET", "/v1/tables/{table}", a.getTable, read)
	rt.Handle("POST", "/v1/tables/{table}", a.getOrCreateTable, write)
	rt.Handle("PUT", "/v1/tables/{table}", a.updateTable, write)
	rt.Handle("DELETE", "/v1/tables/{table}", a.deleteTable, write)
	rt.Handle("POST", "/v1/tables/{table}/duplicate", a.duplicateTable, write)
	rt.Handle("PUT", "/v1/tables/{table}/column", a.renameColumn, write)
	rt.Handle("GET", "/v1/tables/{table}/row", a.getRow, read)
	rt.Handle("POST", "/v1/tables/{table}/rows/find", a.findRows, read)
	rt.Handle("POST", "/v1/tables/{table}/rows", a.createRows, write)
	rt.Handle("PUT", "/v1/tables/{table}/rows", a.updateRows, write)
	rt.Handle("POST", "/v1/tables/{table}/rows/delete", a.deleteRows, write)
	rt.Handle("POST", "/v1/tables/{table}/rows/upsert", a.upsertRows, write)
}

func botOf(r *http.Request) string { return auth.FromContext(r.Context()).BotID }

func workspaceOf(r *http.Request) string {
	p := auth.FromContext(r.Context())
	if p.WorkspaceID != "" {
		return p.WorkspaceID
	}
	return p.Bot().WorkspaceID
}

// answer is a table as the API answers it.
func answer(t Table) map[string]any {
	out := map[string]any{"id": t.ID, "name": t.Name, "factor": max(t.Factor, 1), "frozen": t.Frozen, "schema": answerSchema(t),
		"tags": t.Tags, "isComputeEnabled": false, "createdAt": t.CreatedAt, "updatedAt": t.UpdatedAt, "keyColumn": nil}
	if c, ok := t.Column(t.KeyColumn); ok {
		out["keyColumn"] = c.Name
	}
	if out["tags"] == nil {
		out["tags"] = map[string]string{}
	}
	return out
}

// tableInput is the body of createTable, getOrCreateTable and updateTable.
type tableInput struct {
	Name             *string           `json:"name"`
	Factor           *float64          `json:"factor"`
	Frozen           *bool             `json:"frozen"`
	KeyColumn        nullString        `json:"keyColumn"`
	Schema           map[string]any    `json:"schema"`
	Tags             map[string]string `json:"tags"`
	IsComputeEnabled *bool             `json:"isComputeEnabled"`
}

// nullString is a string field that may be null (null clears it).
type nullString struct {
	set, null bool
	value     string
}

func (n *nullString) UnmarshalJSON(b []byte) error {
	n.set = true
	if string(b) == "null" {
		n.null = true
		return nil
	}
	return json.Unmarshal(b, &n.value)
}

func checkFactor(f *float64) (int, error) {
	if f == nil {
		return 1, nil
	}
	if *f != float64(int(*f)) || *f < 1 || *f > MaxFactor {
		return 0, apperr.Invalid("factor must be an integer from 1 to %d", MaxFactor)
	}
	return int(*f), nil
}

func checkTags(tags map[string]string) error {
	if len(tags) > 50 {
		return apperr.Invalid("tags holds %d tags; at most 50", len(tags))
	}
	for k, v := range tags {
		if k == "" || len(k) > 200 || len(v) > 1000 {
			return apperr.Invalid("tag %q is invalid: keys of 1 to 200 characters, values of at most 1000", k)
		}
	}
	return nil
}

// newTable builds a table from a create body.
func (a *API) newTable(r *http.Request, name string, in tableInput) (Table, error) {
	if err := checkTableName(name); err != nil {
		return Table{}, err
	}
	if in.IsComputeEnabled != nil && *in.IsComputeEnabled {
		return Table{}, apperr.Invalid("isComputeEnabled: Parley cannot run computed columns yet; create the table without it")
	}
	factor, err := checkFactor(in.Factor)
	if err != nil {
		return Table{}, err
	}
	if err := checkTags(in.Tags); err != nil {
		return Table{}, err
	}
	parsed, extra, err := parseSchema(in.Schema)
	if err != nil {
		return Table{}, err
	}
	cols, next, err := columnsOf(parsed, nil, 0)
	if err != nil {
		return Table{}, err
	}
	now := clock.Format(a.clock.Now())
	t := Table{ID: id.NewAt("table", a.clock.Now()), Name: name, Factor: factor, Tags: in.Tags, CreatedAt: now, UpdatedAt: now,
		Columns: cols, NextColumn: next, WorkspaceID: workspaceOf(r)}
	if in.Frozen != nil {
		t.Frozen = *in.Frozen
	}
	if t.Tags == nil {
		t.Tags = map[string]string{}
	}
	if len(extra) > 0 {
		t.Extra, _ = json.Marshal(extra)
	}
	if in.KeyColumn.set && !in.KeyColumn.null {
		c, ok := t.Named(in.KeyColumn.value)
		if !ok {
			return Table{}, apperr.Invalid("keyColumn %q is not a column of the schema", in.KeyColumn.value)
		}
		t.KeyColumn = c.ID
	}
	return t, nil
}

func (a *API) tableQuotas(ctx context.Context, ws string) (int, int64, error) {
	if a.quotas == nil || ws == "" {
		return 0, 0, nil
	}
	return a.quotas.TableQuotas(ctx, ws)
}

func (a *API) create(r *http.Request, t Table) error {
	tablesQuota, _, err := a.tableQuotas(r.Context(), t.WorkspaceID)
	if err != nil {
		return err
	}
	if tablesQuota <= 0 {
		tablesQuota = 1 << 30
	}
	return a.store.CreateTable(r.Context(), botOf(r), t, tablesQuota)
}

func (a *API) createTable(r *http.Request) (httpapi.Response, error) {
	var in tableInput
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Name == nil {
		return httpapi.Response{}, apperr.Invalid("name is required")
	}
	t, err := a.newTable(r, *in.Name, in)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := a.create(r, t); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"table": answer(t)}), nil
}

func (a *API) getTable(r *http.Request) (httpapi.Response, error) {
	t, err := a.store.Table(r.Context(), botOf(r), r.PathValue("table"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"table": answer(t), "rows": t.Rows, "stale": 0, "indexing": 0}), nil
}

func (a *API) getOrCreateTable(r *http.Request) (httpapi.Response, error) {
	var in tableInput
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Name != nil {
		return httpapi.Response{}, apperr.Invalid("unknown field \"name\": the table's name is in the path")
	}
	ref := r.PathValue("table")
	t, err := a.store.Table(r.Context(), botOf(r), ref)
	if err == nil {
		return httpapi.OK(map[string]any{"table": answer(t), "created": false, "rows": t.Rows, "stale": 0, "indexing": 0}), nil
	}
	if !apperr.Is(err, apperr.ResourceNotFound) || tabledata.IsTableID(ref) {
		return httpapi.Response{}, err
	}
	if t, err = a.newTable(r, ref, in); err != nil {
		return httpapi.Response{}, err
	}
	if err := a.create(r, t); err != nil {
		if !apperr.Is(err, apperr.AlreadyExists) {
			return httpapi.Response{}, err
		}
		// Created concurrently: answer that one.
		if t, err = a.store.Table(r.Context(), botOf(r), ref); err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.OK(map[string]any{"table": answer(t), "created": false, "rows": t.Rows, "stale": 0, "indexing": 0}), nil
	}
	return httpapi.OK(map[string]any{"table": answer(t), "created": true, "rows": 0, "stale": 0, "indexing": 0}), nil
}

func (a *API) listTables(r *http.Request) (httpapi.Response, error) {
	tags := httpapi.QueryOf(r).Map("tags")
	all, err := a.store.Tables(r.Context(), botOf(r))
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []map[string]any{}
	sort.Slice(all, func(i, j int) bool { return all[i].CreatedAt > all[j].CreatedAt })
next:
	for _, t := range all {
		for k, v := range tags {
			if t.Tags[k] != v {
				continue next
			}
		}
		out = append(out, answer(t))
	}
	return httpapi.OK(map[string]any{"tables": out}), nil
}

func locked(t Table) error {
	return apperr.New(apperr.ResourceLockedConflict, "table %q is frozen: its name and schema cannot change (duplicate it to change them)", t.Name)
}

func (a *API) updateTable(r *http.Request) (httpapi.Response, error) {
	var in tableInput
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	ctx, bot := r.Context(), botOf(r)
	old, err := a.store.Table(ctx, bot, r.PathValue("table"))
	if err != nil {
		return httpapi.Response{}, err
	}
	t := old
	t.Columns = append([]Column(nil), old.Columns...)
	if in.IsComputeEnabled != nil && *in.IsComputeEnabled {
		return httpapi.Response{}, apperr.Invalid("isComputeEnabled: Parley cannot run computed columns yet")
	}
	if in.Name != nil && *in.Name != old.Name {
		if old.Frozen {
			return httpapi.Response{}, locked(old)
		}
		if err := checkTableName(*in.Name); err != nil {
			return httpapi.Response{}, err
		}
		t.Name = *in.Name
	}
	if in.Factor != nil {
		f, err := checkFactor(in.Factor)
		if err != nil {
			return httpapi.Response{}, err
		}
		if f < old.Factor {
			return httpapi.Response{}, apperr.Invalid("factor can only be increased (from %d)", old.Factor)
		}
		if f != old.Factor {
			// Rows already counted at the old factor: the difference is
			// counted on the workspace's quota like new rows would be.
			return httpapi.Response{}, apperr.Invalid("changing factor after creation is not supported yet; duplicate the table with the new factor")
		}
	}
	if in.Tags != nil {
		if err := checkTags(in.Tags); err != nil {
			return httpapi.Response{}, err
		}
		for k, v := range in.Tags {
			if v == "" {
				delete(t.Tags, k)
			} else {
				t.Tags[k] = v
			}
		}
	}
	var stale []string
	var backfill []string
	if in.Schema != nil {
		parsed, extra, err := parseSchema(in.Schema)
		if err != nil {
			return httpapi.Response{}, err
		}
		cols, next, err := columnsOf(parsed, old.Columns, old.NextColumn)
		if err != nil {
			return httpapi.Response{}, err
		}
		if old.Frozen && !sameColumns(old.Columns, cols) {
			return httpapi.Response{}, locked(old)
		}
		t.Columns, t.NextColumn, t.Extra = cols, next, nil
		if len(extra) > 0 {
			t.Extra, _ = json.Marshal(extra)
		}
		for _, c := range cols {
			o, existed := old.Column(c.ID)
			if existed && typeOf(o.Def) != typeOf(c.Def) {
				stale = append(stale, c.Name)
			}
			if c.Indexed && (!existed || !o.Indexed) && old.Rows > 0 {
				backfill = append(backfill, c.ID)
			}
		}
		if _, ok := t.Column(t.KeyColumn); !ok {
			t.KeyColumn = ""
		}
	}
	if in.KeyColumn.set {
		if in.KeyColumn.null {
			t.KeyColumn = ""
		} else {
			c, ok := t.Named(in.KeyColumn.value)
			if !ok {
				return httpapi.Response{}, apperr.Invalid("keyColumn %q is not a column of the schema", in.KeyColumn.value)
			}
			t.KeyColumn = c.ID
		}
	}
	if in.Frozen != nil {
		t.Frozen = *in.Frozen
	}
	if t.KeyColumn != "" && t.KeyColumn != old.KeyColumn && old.Rows > 0 {
		if err := a.checkUnique(ctx, bot, old, t.KeyColumn); err != nil {
			return httpapi.Response{}, err
		}
		backfill = append(backfill, t.KeyColumn)
	}
	t.UpdatedAt = clock.Format(a.clock.Now())
	if err := a.store.UpdateTable(ctx, bot, old, t); err != nil {
		return httpapi.Response{}, err
	}
	if len(backfill) > 0 {
		if err := a.store.Backfill(ctx, bot, t, backfill); err != nil {
			return httpapi.Response{}, err
		}
	}
	if stale == nil {
		stale = []string{}
	}
	return httpapi.OK(map[string]any{"table": answer(t), "staleColumns": stale}), nil
}

func typeOf(def json.RawMessage) string {
	var d map[string]any
	_ = json.Unmarshal(def, &d)
	s, _ := d["type"].(string)
	f, _ := d["format"].(string)
	return s + "/" + f
}

func sameColumns(a, b []Column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Name != b[i].Name || string(a[i].Def) != string(b[i].Def) || a[i].Required != b[i].Required {
			return false
		}
	}
	return true
}

// checkUnique reads every row once to check that a column about to
// become the key holds no value twice.
func (a *API) checkUnique(ctx context.Context, bot string, t Table, col string) error {
	seen := map[string]int64{}
	var dup error
	_, err := a.store.Scan(ctx, bot, t, Plan{}, func(row Row) (bool, error) {
		v := row.Data[col]
		if v == nil {
			return true, nil
		}
		k := tabledata.Encode(v)
		if other, ok := seen[k]; ok {
			dup = apperr.Invalid("keyColumn: rows %d and %d hold the same value; key values must be unique", other, row.ID)
			return false, nil
		}
		seen[k] = row.ID
		return true, nil
	})
	if err != nil {
		return err
	}
	return dup
}

func (a *API) intent(bot string, at time.Time) func(string) types.TransactWriteItem {
	if a.eraser == nil {
		return nil
	}
	return func(part string) types.TransactWriteItem {
		return a.eraser.EraseIntent(bot, tabledata.KindTable, part, at)
	}
}

func (a *API) kick(ctx context.Context, bot, part string) {
	if a.eraser == nil {
		return
	}
	if err := a.eraser.Kick(ctx, bot, tabledata.KindTable, part); err != nil {
		// The intent is recorded: the next off-peak window erases it.
		a.log.WarnContext(ctx, "kick of a left table partition's erasure failed", "bot", bot, "part", part, "error", err)
	}
}

func (a *API) deleteTable(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	ctx, bot := r.Context(), botOf(r)
	t, err := a.store.Table(ctx, bot, r.PathValue("table"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := a.store.DeleteTable(ctx, bot, t, a.intent(bot, a.clock.Now())); err != nil {
		return httpapi.Response{}, err
	}
	a.kick(ctx, bot, t.Part())
	return httpapi.OK(struct{}{}), nil
}

func (a *API) duplicateTable(r *http.Request) (httpapi.Response, error) {
	var in struct {
		TableName  *string  `json:"tableName"`
		SchemaOnly bool     `json:"schemaOnly"`
		Factor     *float64 `json:"factor"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	ctx, bot := r.Context(), botOf(r)
	src, err := a.store.Table(ctx, bot, r.PathValue("table"))
	if err != nil {
		return httpapi.Response{}, err
	}
	dst := src
	dst.Name = strings.TrimSuffix(src.Name, "Table") + "CopyTable"
	if in.TableName != nil {
		dst.Name = *in.TableName
	}
	if err := checkTableName(dst.Name); err != nil {
		return httpapi.Response{}, err
	}
	if in.Factor != nil {
		if dst.Factor, err = checkFactor(in.Factor); err != nil {
			return httpapi.Response{}, err
		}
	}
	now := a.clock.Now()
	dst.ID, dst.CreatedAt, dst.UpdatedAt = id.NewAt("table", now), clock.Format(now), clock.Format(now)
	dst.Gen, dst.NextRowID, dst.Rows, dst.WorkspaceID = 0, 0, 0, workspaceOf(r)
	dst.Tags = map[string]string{}
	for k, v := range src.Tags {
		dst.Tags[k] = v
	}
	if !in.SchemaOnly {
		if err := a.checkRowFit(src, dst); err != nil {
			return httpapi.Response{}, err
		}
	}
	if err := a.create(r, dst); err != nil {
		return httpapi.Response{}, err
	}
	var rows int64
	if !in.SchemaOnly && src.Rows > 0 {
		_, maxRows, err := a.tableQuotas(ctx, dst.WorkspaceID)
		if err == nil {
			err = a.store.SetCounters(ctx, bot, dst, src.NextRowID, src.Rows, maxRows)
		}
		if err != nil {
			_ = a.store.DeleteTable(ctx, bot, dst, nil)
			return httpapi.Response{}, err
		}
		if rows, err = a.store.CopyRows(ctx, bot, src, dst); err != nil {
			return httpapi.Response{}, err
		}
		dst.NextRowID, dst.Rows = src.NextRowID, rows
	}
	return httpapi.OK(map[string]any{"table": answer(dst), "rows": rows}), nil
}

// checkRowFit refuses a duplicate with a smaller factor when rows could
// not fit (checked on their stored size, whole table read, only then).
func (a *API) checkRowFit(src, dst Table) error {
	if dst.Factor >= src.Factor {
		return nil
	}
	return apperr.Invalid("factor %d is smaller than the source's (%d): its rows may not fit; duplicate with the same factor or more", dst.Factor, src.Factor)
}

func (a *API) renameColumn(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	ctx, bot := r.Context(), botOf(r)
	old, err := a.store.Table(ctx, bot, r.PathValue("table"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if old.Frozen {
		return httpapi.Response{}, locked(old)
	}
	if _, ok := old.Named(in.Name); !ok {
		return httpapi.Response{}, apperr.Invalid("column %q doesn't exist in table %q", in.Name, old.Name)
	}
	if err := checkColumnName(in.NewName); err != nil {
		return httpapi.Response{}, err
	}
	if _, taken := old.Named(in.NewName); taken && in.NewName != in.Name {
		return httpapi.Response{}, apperr.New(apperr.AlreadyExists, "column %q already exists in table %q", in.NewName, old.Name)
	}
	t := old
	t.Columns = append([]Column(nil), old.Columns...)
	for i, c := range t.Columns {
		if c.Name == in.Name {
			t.Columns[i].Name = in.NewName
		}
	}
	t.UpdatedAt = clock.Format(a.clock.Now())
	// Rows keep values under the column's id: nothing else changes.
	if err := a.store.UpdateTable(ctx, bot, old, t); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"table": answer(t)}), nil
}

// rowAnswer is a row as the API answers it: its columns by name (only
// those in sel when given), built-ins, computed and stale.
func rowAnswer(t Table, r Row, sel map[string]bool) map[string]any {
	out := map[string]any{"id": r.ID, "createdAt": r.CreatedAt, "updatedAt": r.UpdatedAt, "computed": map[string]any{}, "stale": []string{}}
	for _, c := range t.Columns {
		if sel != nil && !sel[c.Name] {
			continue
		}
		if v, ok := r.Data[c.ID]; ok && v != nil {
			out[c.Name] = v
		}
	}
	return out
}

func (a *API) getRow(r *http.Request) (httpapi.Response, error) {
	ctx, bot := r.Context(), botOf(r)
	raw := httpapi.QueryOf(r).String("id")
	rowID, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || rowID < 1 {
		return httpapi.Response{}, apperr.New(apperr.InvalidQuery, "query parameter \"id\" must be a row id (a positive integer)")
	}
	t, err := a.store.Table(ctx, bot, r.PathValue("table"))
	if err != nil {
		return httpapi.Response{}, err
	}
	row, err := a.store.Row(ctx, bot, t, rowID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"row": rowAnswer(t, row, nil)}), nil
}

// rowsBody is the body of the row writes.
type rowsBody struct {
	Rows         []map[string]any `json:"rows"`
	WaitComputed *bool            `json:"waitComputed"`
	KeyColumn    *string          `json:"keyColumn"`
}

func decodeRows(r *http.Request, upsert bool) (rowsBody, error) {
	var in rowsBody
	if err := httpapi.Decode(r, &in); err != nil {
		return in, err
	}
	if !upsert && in.KeyColumn != nil {
		return in, apperr.Invalid("unknown field \"keyColumn\"")
	}
	if len(in.Rows) < 1 || len(in.Rows) > 1000 {
		return in, apperr.Invalid("rows must hold 1 to 1000 rows, not %d", len(in.Rows))
	}
	for i, row := range in.Rows {
		if row == nil {
			return in, apperr.Invalid("rows[%d] must be an object", i)
		}
	}
	return in, nil
}

// rowID reads a row's id field: a positive integer, or absent.
func rowID(row map[string]any) (int64, bool, error) {
	v, ok := row["id"]
	if !ok || v == nil {
		return 0, false, nil
	}
	f, isNum := v.(float64)
	if !isNum || f != float64(int64(f)) || f < 1 || f > 2147483647 {
		return 0, false, fmt.Errorf("id must be a row id (a positive integer)")
	}
	return int64(f), true, nil
}

// embedRows computes the embedding of rows' searchable columns.
func (a *API) embedRows(ctx context.Context, t Table, rows []*Row) error {
	var texts []string
	var targets []*Row
	for _, r := range rows {
		if text := searchText(t, r.Data); text != "" {
			texts = append(texts, text)
			targets = append(targets, r)
		} else {
			r.Vec = nil
		}
	}
	if len(texts) == 0 {
		return nil
	}
	vecs, err := a.embed.Embed(ctx, texts)
	if err != nil {
		return err
	}
	for i, v := range vecs {
		targets[i].Vec = v
	}
	return nil
}

// searchText is the text of a row's searchable columns, one "name: value"
// line each.
func searchText(t Table, data map[string]any) string {
	var b strings.Builder
	for _, c := range t.Columns {
		if !c.Searchable || data[c.ID] == nil {
			continue
		}
		v := data[c.ID]
		s, ok := v.(string)
		if !ok {
			raw, _ := json.Marshal(v)
			s = string(raw)
		}
		fmt.Fprintf(&b, "%s: %s\n", c.Name, s)
	}
	return b.String()
}

// rowSet is the outcome of a row write: answered rows, warnings, errors.
type rowSet struct {
	rows     []map[string]any
	warnings []string
	errors   []string
}

func (s *rowSet) warn(i int, ignored []string) {
	if len(ignored) > 0 {
		s.warnings = append(s.warnings, fmt.Sprintf("rows[%d]: ignored %s: no such column", i, strings.Join(ignored, ", ")))
	}
}

func (s rowSet) body(key string) map[string]any {
	out := map[string]any{key: s.rows}
	if s.rows == nil {
		out[key] = []any{}
	}
	if len(s.warnings) > 0 {
		out["warnings"] = s.warnings
	}
	if len(s.errors) > 0 {
		out["errors"] = s.errors
	}
	return out
}

// insert writes new rows (values by column id, in the order given, with
// their request indexes): quota and ids first, then the rows. Rows whose
// key is taken are reported in failed.
func (a *API) insert(ctx context.Context, bot string, t Table, datas []map[string]any, idx []int) (written []Row, failed map[int]error, err error) {
	if len(datas) == 0 {
		return nil, nil, nil
	}
	_, maxRows, err := a.tableQuotas(ctx, t.WorkspaceID)
	if err != nil {
		return nil, nil, err
	}
	first, err := a.store.ReserveRows(ctx, bot, t, int64(len(datas)), maxRows)
	if err != nil {
		return nil, nil, err
	}
	now := clock.Format(a.clock.Now())
	rows := make([]Row, len(datas))
	ptrs := make([]*Row, len(datas))
	changes := make([]Change, len(datas))
	for i, d := range datas {
		rows[i] = Row{ID: first + int64(i), CreatedAt: now, UpdatedAt: now, Data: d}
		ptrs[i] = &rows[i]
	}
	if err := a.embedRows(ctx, t, ptrs); err != nil {
		_ = a.store.Uncount(ctx, bot, t, int64(len(datas)))
		return nil, nil, err
	}
	for i := range rows {
		changes[i] = Change{New: rows[i]}
	}
	bad, err := a.store.WriteRows(ctx, bot, t, changes)
	if err != nil {
		return nil, nil, err
	}
	failed = map[int]error{}
	for i := range rows {
		if e, ok := bad[i]; ok {
			failed[idx[i]] = e
			continue
		}
		written = append(written, rows[i])
	}
	if len(bad) > 0 {
		if err := a.store.Uncount(ctx, bot, t, int64(len(bad))); err != nil {
			return nil, nil, err
		}
	}
	return written, failed, nil
}

// keyDuplicates reports, within one call, rows repeating another's key.
func keyDuplicates(t Table, datas map[int]map[string]any, order []int) map[int]error {
	out := map[int]error{}
	if t.KeyColumn == "" {
		return out
	}
	seen := map[string]int{}
	for _, i := range order {
		v := datas[i][t.KeyColumn]
		if v == nil {
			continue
		}
		k := tabledata.Encode(v)
		if j, ok := seen[k]; ok {
			out[i] = fmt.Errorf("repeats the keyColumn value of rows[%d]", j)
			continue
		}
		seen[k] = i
	}
	return out
}

func keyError(t Table, i int, err error) string {
	name := t.KeyColumn
	if c, ok := t.Column(t.KeyColumn); ok {
		name = c.Name
	}
	return fmt.Sprintf("rows[%d].%s: %s", i, name, err)
}

func (a *API) createRows(r *http.Request) (httpapi.Response, error) {
	in, err := decodeRows(r, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx, bot := r.Context(), botOf(r)
	t, err := a.store.Table(ctx, bot, r.PathValue("table"))
	if err != nil {
		return httpapi.Response{}, err
	}
	v, err := newValidator(t)
	if err != nil {
		return httpapi.Response{}, err
	}
	var set rowSet
	valid := map[int]map[string]any{}
	var order []int
	for i, row := range in.Rows {
		if _, has := row["id"]; has {
			set.warnings = append(set.warnings, fmt.Sprintf("rows[%d]: id is given by the table and was ignored", i))
		}
		data, ignored, err := v.check(i, row)
		if err != nil {
			set.errors = append(set.errors, err.Error())
			continue
		}
		set.warn(i, ignored)
		valid[i], order = data, append(order, i)
	}
	dups := keyDuplicates(t, valid, order)
	var datas []map[string]any
	var idx []int
	for _, i := range order {
		if e, ok := dups[i]; ok {
			set.errors = append(set.errors, keyError(t, i, e))
			continue
		}
		datas, idx = append(datas, valid[i]), append(idx, i)
	}
	written, failed, err := a.insert(ctx, bot, t, datas, idx)
	if err != nil {
		return httpapi.Response{}, err
	}
	for _, i := range idx {
		if e, ok := failed[i]; ok {
			set.errors = append(set.errors, keyError(t, i, e))
		}
	}
	for _, row := range written {
		set.rows = append(set.rows, rowAnswer(t, row, nil))
	}
	return httpapi.OK(set.body("rows")), nil
}

// update merges partial rows (values by column id; nil unsets) into the
// stored rows and writes them. Answers the written rows by request index.
func (a *API) update(ctx context.Context, bot string, t Table, v *validator, patches map[int]map[string]any, ids map[int]int64, stored map[int64]Row, set *rowSet) (map[int]Row, map[int]error, error) {
	var changes []Change
	var idx []int
	now := clock.Format(a.clock.Now())
	order := make([]int, 0, len(patches))
	for i := range patches {
		order = append(order, i)
	}
	sort.Ints(order)
	merged := map[int]map[string]any{}
	for _, i := range order {
		old := stored[ids[i]]
		byName := map[string]any{}
		for _, c := range t.Columns {
			if val, ok := old.Data[c.ID]; ok {
				byName[c.Name] = val
			}
		}
		for name, val := range patches[i] {
			byName[name] = val
		}
		data, ignored, err := v.check(i, byName)
		if err != nil {
			set.errors = append(set.errors, err.Error())
			continue
		}
		set.warn(i, ignored)
		merged[i] = data
	}
	failed := keyDuplicates(t, merged, order)
	var ptrs []*Row
	for _, i := range order {
		data, ok := merged[i]
		if !ok || failed[i] != nil {
			continue
		}
		old := stored[ids[i]]
		// Values of columns no longer in the schema are kept as stored.
		for cid, val := range old.Data {
			if _, known := t.Column(cid); !known {
				data[cid] = val
			}
		}
		oldCopy := old
		changes = append(changes, Change{New: Row{ID: old.ID, CreatedAt: old.CreatedAt, UpdatedAt: now, Data: data}, Old: &oldCopy})
		idx = append(idx, i)
	}
	for i := range changes {
		ptrs = append(ptrs, &changes[i].New)
	}
	if err := a.embedRows(ctx, t, ptrs); err != nil {
		return nil, nil, err
	}
	bad, err := a.store.WriteRows(ctx, bot, t, changes)
	if err != nil {
		return nil, nil, err
	}
	out := map[int]Row{}
	for k, c := range changes {
		if e, ok := bad[k]; ok {
			failed[idx[k]] = e
			continue
		}
		out[idx[k]] = c.New
	}
	return out, failed, nil
}

func (a *API) updateRows(r *http.Request) (httpapi.Response, error) {
	in, err := decodeRows(r, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx, bot := r.Context(), botOf(r)
	t, err := a.store.Table(ctx, bot, r.PathValue("table"))
	if err != nil {
		return httpapi.Response{}, err
	}
	v, err := newValidator(t)
	if err != nil {
		return httpapi.Response{}, err
	}
	var set rowSet
	ids := map[int]int64{}
	patches := map[int]map[string]any{}
	var list []int64
	seen := map[int64]int{}
	for i, row := range in.Rows {
		id, ok, err := rowID(row)
		if err != nil || !ok {
			return httpapi.Response{}, apperr.Invalid("rows[%d].id is required: the id of the row to update (a positive integer)", i)
		}
		if j, dup := seen[id]; dup {
			return httpapi.Response{}, apperr.Invalid("rows[%d] and rows[%d] both update row %d", j, i, id)
		}
		seen[id] = i
		ids[i] = id
		list = append(list, id)
	}
	stored, err := a.store.Rows(ctx, bot, t, list)
	if err != nil {
		return httpapi.Response{}, err
	}
	for i, row := range in.Rows {
		if _, ok := stored[ids[i]]; !ok {
			set.errors = append(set.errors, fmt.Sprintf("rows[%d]: row %d doesn't exist", i, ids[i]))
			continue
		}
		patches[i] = row
	}
	written, failed, err := a.update(ctx, bot, t, v, patches, ids, stored, &set)
	if err != nil {
		return httpapi.Response{}, err
	}
	for i := range in.Rows {
		if row, ok := written[i]; ok {
			set.rows = append(set.rows, rowAnswer(t, row, nil))
		} else if e, ok := failed[i]; ok {
			set.errors = append(set.errors, keyError(t, i, e))
		}
	}
	return httpapi.OK(set.body("rows")), nil
}
