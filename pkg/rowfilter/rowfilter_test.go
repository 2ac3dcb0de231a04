package rowfilter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/apperr"
)

var columns = map[string]bool{"id": true, "createdAt": true, "updatedAt": true, "name": true, "age": true, "city": true,
	"vip": true, "tags": true, "email": true, "meta": true}

func parse(t *testing.T, src string) (*Filter, error) {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal([]byte(src), &raw); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return Parse(raw, func(f string) bool { return columns[f] })
}

func getter(row map[string]any) Getter {
	return func(f string) (any, bool) { v, ok := row[f]; return v, ok }
}

func TestMatch(t *testing.T) {
	john := map[string]any{"id": 1.0, "name": "John", "age": 30.0, "city": "Paris", "vip": true, "tags": []any{"a", "b"},
		"createdAt": "2026-05-01T10:00:00.000Z", "meta": map[string]any{"k": "v"}}
	cases := []struct {
		filter string
		want   bool
	}{
		{`{}`, true},
		{`{"name": "John"}`, true},
		{`{"name": "john"}`, false},
		{`{"name": {"$eq": "John"}}`, true},
		{`{"name": {"$ne": "John"}}`, false},
		{`{"age": {"$gt": 29}}`, true},
		{`{"age": {"$gt": 30}}`, false},
		{`{"age": {"$gte": 30, "$lt": 31}}`, true},
		{`{"age": {"$lte": 29.5}}`, false},
		{`{"age": {"$gt": "29"}}`, false},
		{`{"city": {"$in": ["Lyon", "Paris"]}}`, true},
		{`{"city": {"$nin": ["Lyon", "Paris"]}}`, false},
		{`{"email": {"$exists": false}}`, true},
		{`{"email": {"$exists": true}}`, false},
		{`{"email": null}`, true},
		{`{"name": {"$regex": "^jo", "$options": "i"}}`, true},
		{`{"name": {"$regex": "^jo"}}`, false},
		{`{"$or": [{"city": "Lyon"}, {"vip": true}]}`, true},
		{`{"$and": [{"city": "Paris"}, {"vip": false}]}`, false},
		{`{"$not": {"city": "Paris"}}`, false},
		{`{"city": {"$not": {"$eq": "Lyon"}}}`, true},
		{`{"$nor": [{"city": "Lyon"}]}`, true},
		{`{"tags": "a"}`, true},
		{`{"tags": {"$in": ["z", "b"]}}`, true},
		{`{"tags": ["a", "b"]}`, true},
		{`{"meta": {"$eq": {"k": "v"}}}`, true},
		{`{"id": {"$gt": 0}, "createdAt": {"$gte": "2026-05-01T09:00:00Z"}}`, true},
		{`{"createdAt": {"$lt": "2026-05-01T10:00:00Z"}}`, false},
		{`{"vip": {"$gt": false}}`, true},
	}
	for _, c := range cases {
		f, err := parse(t, c.filter)
		if err != nil {
			t.Errorf("%s: %v", c.filter, err)
			continue
		}
		if got := f.Match(getter(john)); got != c.want {
			t.Errorf("%s matched %v, want %v", c.filter, got, c.want)
		}
	}
}

func TestRefused(t *testing.T) {
	cases := []struct{ filter, says string }{
		{`{"nope": 1}`, `unknown column "nope"`},
		{`{"age": {"$between": [1, 2]}}`, `unknown operator "$between"`},
		{`{"$where": "x"}`, `unknown operator "$where"`},
		{`{"$or": {"a": 1}}`, `$or must be a non-empty array`},
		{`{"$or": [{"nope": 1}]}`, `unknown column "nope" in filter.$or[0]`},
		{`{"name": {"$regex": "("}}`, `not a valid regular expression`},
		{`{"name": {"$regex": "a", "$options": "x"}}`, `supported options`},
		{`{"age": {"$in": 3}}`, `$in must be an array`},
		{`{"age": {"$exists": 1}}`, `$exists must be true or false`},
		{`{"age": {"$gt": [1]}}`, `$gt must be a number`},
		{`{"age": {"$gt": 1, "x": 2}}`, `mixes operators`},
	}
	for _, c := range cases {
		_, err := parse(t, c.filter)
		if !apperr.Is(err, apperr.InvalidQuery) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want InvalidQuery saying %s", c.filter, err, c.says)
		}
	}
}

func TestConds(t *testing.T) {
	f, err := parse(t, `{"age": {"$gte": 18, "$lt": 65}, "city": {"$in": ["a", "b"]}, "$or": [{"vip": true}], "name": "x", "email": {"$in": [null]}}`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range f.Conds() {
		got[c.Field+c.Op]++
	}
	want := map[string]int{"age$gte": 1, "age$lt": 1, "city$in": 1, "name$eq": 1}
	if len(got) != len(want) {
		t.Fatalf("conds %v, want %v", got, want)
	}
	for k := range want {
		if got[k] != 1 {
			t.Fatalf("conds %v, want %v", got, want)
		}
	}
}

func TestOrder(t *testing.T) {
	vals := []any{nil, false, true, -1.0, 2.0, "a", "b", map[string]any{}, []any{}}
	for i := range vals {
		for j := range vals {
			got := Order(vals[i], vals[j])
			want := cmpOrdered(float64(i), float64(j))
			if got != want {
				t.Errorf("Order(%v, %v) = %d, want %d", vals[i], vals[j], got, want)
			}
		}
	}
}
