package tables

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/rowfilter"
	"github.com/parley-dev/parley/pkg/search"
	"github.com/parley-dev/parley/pkg/tabledata"
)

// findInput is the body of findTableRows.
type findInput struct {
	Limit          *int           `json:"limit"`
	Offset         *int           `json:"offset"`
	Filter         map[string]any `json:"filter"`
	Group          map[string]any `json:"group"`
	Search         *string        `json:"search"`
	Select         []string       `json:"select"`
	OrderBy        *string        `json:"orderBy"`
	OrderDirection *string        `json:"orderDirection"`
}

// query is a parsed find: what to match and how to read.
type query struct {
	t      Table
	filter *rowfilter.Filter
}

func isBuiltIn(f string) bool { return f == "id" || f == "createdAt" || f == "updatedAt" }

func (q query) known(f string) bool {
	if isBuiltIn(f) {
		return true
	}
	_, ok := q.t.Named(f)
	return ok
}

// get reads a field of a row for the filter and the order.
func (q query) get(r Row) rowfilter.Getter {
	return func(f string) (any, bool) {
		switch f {
		case "id":
			return float64(r.ID), true
		case "createdAt":
			return r.CreatedAt, true
		case "updatedAt":
			return r.UpdatedAt, true
		}
		c, ok := q.t.Named(f)
		if !ok {
			return nil, false
		}
		v, ok := r.Data[c.ID]
		return v, ok
	}
}

func parseQuery(t Table, filter map[string]any) (query, error) {
	q := query{t: t}
	f, err := rowfilter.Parse(filter, q.known)
	if err != nil {
		return q, err
	}
	q.filter = f
	return q, nil
}

// plan picks how to read the rows a filter can match: ids by key, an
// index (the key column or an x-parley indexed column) for an equality,
// an $in or a range, else the rows in id order. ordered says whether the
// plan reads in the order asked (orderBy, desc), so a page can stop early.
func (q query) plan(orderBy string, desc bool) (p Plan, ids []int64, ordered bool) {
	indexed := func(name string) (string, bool) {
		c, ok := q.t.Named(name)
		if !ok || (!c.Indexed && c.ID != q.t.KeyColumn) {
			return "", false
		}
		return c.ID, true
	}
	conds := q.filter.Conds()
	for _, c := range conds {
		if c.Field == "id" && (c.Op == "$eq" || c.Op == "$in") {
			vals := c.Values
			if c.Op == "$eq" {
				vals = []any{c.Value}
			}
			for _, v := range vals {
				if f, ok := v.(float64); ok && f == float64(int64(f)) && f > 0 {
					ids = append(ids, int64(f))
				}
			}
			if ids == nil {
				ids = []int64{}
			}
			return Plan{}, ids, false
		}
	}
	for _, c := range conds {
		col, ok := indexed(c.Field)
		if !ok {
			continue
		}
		switch c.Op {
		case "$eq":
			return Plan{Column: col, Values: []any{c.Value}, Desc: desc}, nil, orderBy == "id" || orderBy == c.Field
		case "$in":
			return Plan{Column: col, Values: c.Values, Desc: desc}, nil, orderBy == c.Field
		}
	}
	for _, c := range conds {
		col, ok := indexed(c.Field)
		if !ok {
			continue
		}
		p := Plan{Column: col, Desc: desc}
		for _, d := range conds {
			if d.Field != c.Field {
				continue
			}
			switch d.Op {
			case "$gt", "$gte":
				p.Lower = &Bound{Value: d.Value, Inclusive: d.Op == "$gte"}
			case "$lt", "$lte":
				p.Upper = &Bound{Value: d.Value, Inclusive: d.Op == "$lte"}
			}
		}
		if p.Lower != nil && p.Upper != nil && tabledata.Encode(p.Lower.Value)[:1] != tabledata.Encode(p.Upper.Value)[:1] {
			continue // bounds of different kinds match nothing; read plainly
		}
		return p, nil, orderBy == c.Field
	}
	if orderBy != "id" {
		if col, ok := indexed(orderBy); ok {
			if c, _ := q.t.Column(col); c.Indexed && col != q.t.KeyColumn {
				return Plan{Column: col, Desc: desc}, nil, true
			}
		}
	}
	return Plan{Desc: desc}, nil, orderBy == "id"
}

// matches reads the rows matching q, in the order asked when the plan
// gives it; it stops after stop rows when ordered (stop 0: all).
func (a *API) matches(ctx context.Context, bot string, q query, orderBy string, desc bool, stop int) ([]Row, bool, error) {
	p, ids, ordered := q.plan(orderBy, desc)
	var out []Row
	if ids != nil {
		rows, err := a.store.Rows(ctx, bot, q.t, ids)
		if err != nil {
			return nil, false, err
		}
		for _, r := range rows {
			if q.filter.Match(q.get(r)) {
				out = append(out, r)
			}
		}
		return out, false, nil
	}
	_, err := a.store.Scan(ctx, bot, q.t, p, func(r Row) (bool, error) {
		if q.filter.Match(q.get(r)) {
			out = append(out, r)
		}
		return !(ordered && stop > 0 && len(out) >= stop), nil
	})
	return out, ordered, err
}

func sortRows(q query, rows []Row, orderBy string, desc bool) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, _ := q.get(rows[i])(orderBy)
		b, _ := q.get(rows[j])(orderBy)
		n := rowfilter.Order(a, b)
		if n == 0 {
			n = cmpInt(rows[i].ID, rows[j].ID)
		}
		if desc {
			return n > 0
		}
		return n < 0
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (a *API) findRows(r *http.Request) (httpapi.Response, error) {
	var in findInput
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	limit, offset := 100, 0
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 1000 {
			return httpapi.Response{}, apperr.Invalid("limit must be from 1 to 1000")
		}
		limit = *in.Limit
	}
	if in.Offset != nil {
		if *in.Offset < 0 {
			return httpapi.Response{}, apperr.Invalid("offset must be 0 or more")
		}
		offset = *in.Offset
	}
	orderBy, desc := "id", false
	if in.OrderBy != nil && *in.OrderBy != "" {
		orderBy = *in.OrderBy
	}
	if in.OrderDirection != nil {
		switch *in.OrderDirection {
		case "asc":
		case "desc":
			desc = true
		default:
			return httpapi.Response{}, apperr.Invalid("orderDirection must be \"asc\" or \"desc\"")
		}
	}
	if in.Search != nil && len(*in.Search) > 1024 {
		return httpapi.Response{}, apperr.Invalid("search must be at most 1024 characters")
	}
	ctx, bot := r.Context(), botOf(r)
	t, err := a.store.Table(ctx, bot, r.PathValue("table"))
	if err != nil {
		return httpapi.Response{}, err
	}
	q, err := parseQuery(t, in.Filter)
	if err != nil {
		return httpapi.Response{}, err
	}
	if !q.known(orderBy) {
		return httpapi.Response{}, apperr.New(apperr.InvalidQuery, "orderBy: unknown column %q", orderBy)
	}
	var sel map[string]bool
	if in.Select != nil {
		sel = map[string]bool{}
		for _, s := range in.Select {
			if !q.known(s) {
				return httpapi.Response{}, apperr.New(apperr.InvalidQuery, "select: unknown column %q", s)
			}
			sel[s] = true
		}
	}
	var groups []group
	if len(in.Group) > 0 {
		if groups, err = parseGroup(q, in.Group); err != nil {
			return httpapi.Response{}, err
		}
	}
	searching := in.Search != nil && strings.TrimSpace(*in.Search) != ""
	stop := 0
	if !searching && groups == nil {
		stop = offset + limit + 1
	}
	rows, ordered, err := a.matches(ctx, bot, q, orderBy, desc, stop)
	if err != nil {
		return httpapi.Response{}, err
	}
	if groups != nil {
		out := aggregate(q, groups, rows)
		page, more := window(out, offset, limit)
		return httpapi.OK(map[string]any{"rows": page, "hasMore": more, "offset": offset, "limit": limit}), nil
	}
	var sims map[int64]float32
	if searching {
		vecs, err := a.embed.Embed(ctx, []string{*in.Search})
		if err != nil {
			return httpapi.Response{}, err
		}
		sims = map[int64]float32{}
		for _, row := range rows {
			if row.Vec != nil && len(row.Vec) == len(vecs[0]) {
				sims[row.ID] = search.Cosine(vecs[0], row.Vec)
			}
		}
		sort.SliceStable(rows, func(i, j int) bool { return sims[rows[i].ID] > sims[rows[j].ID] })
	} else if !ordered {
		sortRows(q, rows, orderBy, desc)
	}
	answers := make([]map[string]any, 0, len(rows))
	for _, row := range rows {
		ans := rowAnswer(t, row, sel)
		if sims != nil {
			ans["similarity"] = sims[row.ID]
		}
		answers = append(answers, ans)
	}
	page, more := window(answers, offset, limit)
	return httpapi.OK(map[string]any{"rows": page, "hasMore": more, "offset": offset, "limit": limit}), nil
}

func window(rows []map[string]any, offset, limit int) ([]map[string]any, bool) {
	if offset >= len(rows) {
		return []map[string]any{}, false
	}
	end := min(offset+limit, len(rows))
	return rows[offset:end], end < len(rows)
}

// group is one column of a group clause: "key", or its aggregations.
type group struct {
	column string
	key    bool
	aggs   []string
}

var aggregations = map[string]bool{"count": true, "sum": true, "avg": true, "min": true, "max": true}

// parseGroup reads {"someId": "key", "orders": ["sum", "avg"], "x": "count"}.
func parseGroup(q query, raw map[string]any) ([]group, error) {
	var out []group
	hasKey := false
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, col := range names {
		if !q.known(col) {
			return nil, apperr.New(apperr.InvalidQuery, "group: unknown column %q", col)
		}
		var ops []string
		switch v := raw[col].(type) {
		case string:
			ops = []string{v}
		case []any:
			for _, x := range v {
				s, ok := x.(string)
				if !ok {
					return nil, apperr.New(apperr.InvalidQuery, "group.%s must be \"key\" or aggregations (count, sum, avg, min, max)", col)
				}
				ops = append(ops, s)
			}
		default:
			return nil, apperr.New(apperr.InvalidQuery, "group.%s must be \"key\" or aggregations (count, sum, avg, min, max)", col)
		}
		g := group{column: col}
		for _, op := range ops {
			switch {
			case op == "key":
				g.key, hasKey = true, true
			case aggregations[op]:
				g.aggs = append(g.aggs, op)
			default:
				return nil, apperr.New(apperr.InvalidQuery, "group.%s: unknown aggregation %q; use key, count, sum, avg, min or max", col, op)
			}
		}
		out = append(out, g)
	}
	if !hasKey && len(out) == 0 {
		return nil, apperr.New(apperr.InvalidQuery, "group needs at least one column")
	}
	return out, nil
}

// aggregate groups rows by their key columns and computes aggregations:
// one answer row per group, ordered by key, with "<column>Key" and
// "<column><Aggregation>" fields (e.g. someIdKey, ordersSum, ordersAvg)
// and an id numbering the groups.
func aggregate(q query, groups []group, rows []Row) []map[string]any {
	type acc struct {
		keys  []any
		count map[string]int
		sum   map[string]float64
		nums  map[string]int
		min   map[string]any
		max   map[string]any
	}
	byKey := map[string]*acc{}
	var order []string
	for _, r := range rows {
		get := q.get(r)
		var keys []any
		for _, g := range groups {
			if g.key {
				v, _ := get(g.column)
				keys = append(keys, v)
			}
		}
		k := fmt.Sprint(tabledataKey(keys))
		a, ok := byKey[k]
		if !ok {
			a = &acc{keys: keys, count: map[string]int{}, sum: map[string]float64{}, nums: map[string]int{}, min: map[string]any{}, max: map[string]any{}}
			byKey[k] = a
			order = append(order, k)
		}
		for _, g := range groups {
			v, _ := get(g.column)
			if v == nil {
				continue
			}
			a.count[g.column]++
			if f, ok := v.(float64); ok {
				a.sum[g.column] += f
				a.nums[g.column]++
			}
			if m, ok := a.min[g.column]; !ok || rowfilter.Order(v, m) < 0 {
				a.min[g.column] = v
			}
			if m, ok := a.max[g.column]; !ok || rowfilter.Order(v, m) > 0 {
				a.max[g.column] = v
			}
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		ki, kj := byKey[order[i]].keys, byKey[order[j]].keys
		for n := range ki {
			if c := rowfilter.Order(ki[n], kj[n]); c != 0 {
				return c < 0
			}
		}
		return false
	})
	out := make([]map[string]any, 0, len(order))
	for n, k := range order {
		a := byKey[k]
		row := map[string]any{"id": n + 1, "computed": map[string]any{}}
		ki := 0
		for _, g := range groups {
			if g.key {
				row[g.column+"Key"] = a.keys[ki]
				ki++
			}
			for _, op := range g.aggs {
				name := g.column + strings.ToUpper(op[:1]) + op[1:]
				switch op {
				case "count":
					row[name] = a.count[g.column]
				case "sum":
					row[name] = a.sum[g.column]
				case "avg":
					if a.nums[g.column] > 0 {
						row[name] = a.sum[g.column] / float64(a.nums[g.column])
					} else {
						row[name] = nil
					}
				case "min":
					row[name] = a.min[g.column]
				case "max":
					row[name] = a.max[g.column]
				}
			}
		}
		out = append(out, row)
	}
	return out
}

func tabledataKey(keys []any) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = tabledata.Encode(k)
	}
	return out
}

func (a *API) deleteRows(r *http.Request) (httpapi.Response, error) {
	var in struct {
		IDs           []float64      `json:"ids"`
		Filter        map[string]any `json:"filter"`
		DeleteAllRows bool           `json:"deleteAllRows"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	given := 0
	for _, b := range []bool{in.IDs != nil, in.Filter != nil, in.DeleteAllRows} {
		if b {
			given++
		}
	}
	if given != 1 {
		return httpapi.Response{}, apperr.Invalid("give exactly one of ids, filter or deleteAllRows: true")
	}
	if len(in.IDs) > 1000 {
		return httpapi.Response{}, apperr.Invalid("ids holds %d ids; at most 1000", len(in.IDs))
	}
	ctx, bot := r.Context(), botOf(r)
	t, err := a.store.Table(ctx, bot, r.PathValue("table"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if in.DeleteAllRows {
		n, err := a.store.ClearRows(ctx, bot, t, httpapiNow(a), a.intent(bot, a.clock.Now()))
		if err != nil {
			return httpapi.Response{}, err
		}
		a.kick(ctx, bot, t.Part())
		return httpapi.OK(map[string]any{"deletedRows": n}), nil
	}
	var rows []Row
	if in.IDs != nil {
		ids := make([]int64, 0, len(in.IDs))
		for i, f := range in.IDs {
			if f != float64(int64(f)) || f < 1 {
				return httpapi.Response{}, apperr.Invalid("ids[%d] must be a row id (a positive integer)", i)
			}
			ids = append(ids, int64(f))
		}
		found, err := a.store.Rows(ctx, bot, t, ids)
		if err != nil {
			return httpapi.Response{}, err
		}
		for _, row := range found {
			rows = append(rows, row)
		}
	} else {
		q, err := parseQuery(t, in.Filter)
		if err != nil {
			return httpapi.Response{}, err
		}
		if rows, _, err = a.matches(ctx, bot, q, "id", false, 0); err != nil {
			return httpapi.Response{}, err
		}
	}
	for start := 0; start < len(rows); start += 1000 {
		if err := a.store.DeleteRows(ctx, bot, t, rows[start:min(start+1000, len(rows))]); err != nil {
			return httpapi.Response{}, err
		}
	}
	return httpapi.OK(map[string]any{"deletedRows": len(rows)}), nil
}

func httpapiNow(a *API) string { return a.clock.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

func (a *API) upsertRows(r *http.Request) (httpapi.Response, error) {
	in, err := decodeRows(r, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx, bot := r.Context(), botOf(r)
	t, err := a.store.Table(ctx, bot, r.PathValue("table"))
	if err != nil {
		return httpapi.Response{}, err
	}
	key := "id"
	if c, ok := t.Column(t.KeyColumn); ok {
		key = c.Name
	}
	if in.KeyColumn != nil {
		key = *in.KeyColumn
	}
	var col Column
	if key != "id" {
		var ok bool
		if col, ok = t.Named(key); !ok {
			return httpapi.Response{}, apperr.Invalid("keyColumn %q is not a column of table %q", key, t.Name)
		}
	}
	v, err := newValidator(t)
	if err != nil {
		return httpapi.Response{}, err
	}
	var set rowSet
	// Find each row's stored row by key.
	existing := map[int]int64{}
	var inserts []int
	switch {
	case key == "id":
		var ids []int64
		byID := map[int64]int{}
		for i, row := range in.Rows {
			id, ok, err := rowID(row)
			if err != nil {
				return httpapi.Response{}, apperr.Invalid("rows[%d].%s", i, err)
			}
			if !ok {
				inserts = append(inserts, i)
				continue
			}
			if j, dup := byID[id]; dup {
				return httpapi.Response{}, apperr.Invalid("rows[%d] and rows[%d] both name row %d", j, i, id)
			}
			byID[id] = i
			ids = append(ids, id)
		}
		found, err := a.store.Rows(ctx, bot, t, ids)
		if err != nil {
			return httpapi.Response{}, err
		}
		for id, i := range byID {
			if _, ok := found[id]; ok {
				existing[i] = id
			} else {
				inserts = append(inserts, i)
			}
		}
	default:
		byValue := map[string]int{}
		var values []any
		for i, row := range in.Rows {
			val := row[key]
			if val == nil {
				set.errors = append(set.errors, fmt.Sprintf("rows[%d].%s: the key column's value is required to upsert", i, key))
				continue
			}
			k := tabledata.Encode(val)
			if j, dup := byValue[k]; dup {
				return httpapi.Response{}, apperr.Invalid("rows[%d] and rows[%d] have the same %s", j, i, key)
			}
			byValue[k] = i
			values = append(values, val)
		}
		found, err := a.findByValues(ctx, bot, t, col, values)
		if err != nil {
			return httpapi.Response{}, err
		}
		for k, i := range byValue {
			if id, ok := found[k]; ok {
				existing[i] = id
			} else {
				inserts = append(inserts, i)
			}
		}
	}
	sort.Ints(inserts)
	updated, inserted, failed, err := a.upsertOnce(ctx, bot, t, v, in.Rows, existing, inserts, &set)
	if err != nil {
		return httpapi.Response{}, err
	}
	// A key another upsert took meanwhile: update that row instead.
	if len(failed) > 0 && key != "id" && col.ID == t.KeyColumn {
		var retry []any
		for i := range failed {
			retry = append(retry, in.Rows[i][key])
		}
		found, err := a.findByValues(ctx, bot, t, col, retry)
		if err != nil {
			return httpapi.Response{}, err
		}
		again := map[int]int64{}
		for i := range failed {
			if id, ok := found[tabledata.Encode(in.Rows[i][key])]; ok {
				again[i] = id
				delete(failed, i)
			}
		}
		up2, _, failed2, err := a.upsertOnce(ctx, bot, t, v, in.Rows, again, nil, &set)
		if err != nil {
			return httpapi.Response{}, err
		}
		for i, row := range up2 {
			updated[i] = row
		}
		for i, e := range failed2 {
			failed[i] = e
		}
	}
	out := map[string]any{}
	ins, upd := []map[string]any{}, []map[string]any{}
	for i := range in.Rows {
		if row, ok := inserted[i]; ok {
			ins = append(ins, rowAnswer(t, row, nil))
		} else if row, ok := updated[i]; ok {
			upd = append(upd, rowAnswer(t, row, nil))
		} else if e, ok := failed[i]; ok {
			set.errors = append(set.errors, keyError(t, i, e))
		}
	}
	out["inserted"], out["updated"] = ins, upd
	if len(set.warnings) > 0 {
		out["warnings"] = set.warnings
	}
	if len(set.errors) > 0 {
		out["errors"] = set.errors
	}
	return httpapi.OK(out), nil
}

// findByValues finds the rows holding values of a column (by encoded
// value): the key column's claims (one BatchGetItem), an indexed column's
// entries, or a read of the table's rows.
func (a *API) findByValues(ctx context.Context, bot string, t Table, col Column, values []any) (map[string]int64, error) {
	out := map[string]int64{}
	if len(values) == 0 {
		return out, nil
	}
	if col.ID == t.KeyColumn {
		claims, err := a.store.KeyRows(ctx, bot, t, values)
		if err != nil {
			return nil, err
		}
		for _, v := range values {
			if id, ok := claims[tabledata.ClaimOf(v)]; ok {
				out[tabledata.Encode(v)] = id
			}
		}
		return out, nil
	}
	want := map[string]bool{}
	for _, v := range values {
		want[tabledata.Encode(v)] = true
	}
	p := Plan{}
	if col.Indexed {
		p = Plan{Column: col.ID, Values: values}
	}
	_, err := a.store.Scan(ctx, bot, t, p, func(r Row) (bool, error) {
		if v := r.Data[col.ID]; v != nil {
			if k := tabledata.Encode(v); want[k] {
				if _, seen := out[k]; !seen {
					out[k] = r.ID
				}
			}
		}
		return true, nil
	})
	return out, err
}

// upsertOnce updates the existing rows and inserts the others.
func (a *API) upsertOnce(ctx context.Context, bot string, t Table, v *validator, rows []map[string]any, existing map[int]int64, inserts []int, set *rowSet) (map[int]Row, map[int]Row, map[int]error, error) {
	failed := map[int]error{}
	updated := map[int]Row{}
	if len(existing) > 0 {
		var ids []int64
		for _, id := range existing {
			ids = append(ids, id)
		}
		stored, err := a.store.Rows(ctx, bot, t, ids)
		if err != nil {
			return nil, nil, nil, err
		}
		patches := map[int]map[string]any{}
		for i := range existing {
			if _, ok := stored[existing[i]]; ok {
				patches[i] = rows[i]
			} else {
				inserts = append(inserts, i) // deleted meanwhile
			}
		}
		up, f, err := a.update(ctx, bot, t, v, patches, existing, stored, set)
		if err != nil {
			return nil, nil, nil, err
		}
		updated = up
		for i, e := range f {
			failed[i] = e
		}
	}
	sort.Ints(inserts)
	valid := map[int]map[string]any{}
	var order []int
	for _, i := range inserts {
		data, ignored, err := v.check(i, rows[i])
		if err != nil {
			set.errors = append(set.errors, err.Error())
			continue
		}
		set.warn(i, ignored)
		valid[i], order = data, append(order, i)
	}
	var datas []map[string]any
	var idx []int
	for _, i := range order {
		datas, idx = append(datas, valid[i]), append(idx, i)
	}
	written, f, err := a.insert(ctx, bot, t, datas, idx)
	if err != nil {
		return nil, nil, nil, err
	}
	for i, e := range f {
		failed[i] = e
	}
	inserted := map[int]Row{}
	w := 0
	for _, i := range idx {
		if _, bad := f[i]; bad {
			continue
		}
		inserted[i] = written[w]
		w++
	}
	return updated, inserted, failed, nil
}
