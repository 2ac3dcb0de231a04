package search

import (
	"context"
	"fmt"
	"testing"
)

func TestMatchFollowsS3VectorsFilters(t *testing.T) {
	meta := map[string]any{"bot": "b1", "tags": []any{"lang=en", "kind=faq"}, "page": float64(3), "ok": true}
	cases := []struct {
		f    Filter
		want bool
	}{
		{Filter{"bot": "b1"}, true},
		{Filter{"bot": "b2"}, false},
		{Filter{"bot": map[string]any{"$eq": "b1"}}, true},
		{Filter{"tags": map[string]any{"$eq": "kind=faq"}}, true}, // any element of a list
		{Filter{"tags": map[string]any{"$eq": "kind=doc"}}, false},
		{Filter{"bot": "b1", "tags": "lang=en"}, true},
		{Filter{"$and": []any{map[string]any{"tags": "lang=en"}, map[string]any{"tags": "kind=faq"}}}, true},
		{Filter{"$and": []any{map[string]any{"tags": "lang=en"}, map[string]any{"tags": "kind=doc"}}}, false},
		{Filter{"$or": []any{map[string]any{"bot": "b9"}, map[string]any{"page": map[string]any{"$gte": 3}}}}, true},
		{Filter{"page": map[string]any{"$gt": 3}}, false},
		{Filter{"page": map[string]any{"$lt": 4, "$gt": 2}}, true},
		{Filter{"bot": map[string]any{"$in": []any{"b0", "b1"}}}, true},
		{Filter{"bot": map[string]any{"$nin": []any{"b0", "b1"}}}, false},
		{Filter{"bot": map[string]any{"$ne": "b1"}}, false},
		{Filter{"missing": map[string]any{"$exists": false}}, true},
		{Filter{"ok": map[string]any{"$exists": true}}, true},
		{Filter{"missing": "x"}, false},
	}
	for _, c := range cases {
		if got := Match(c.f, meta); got != c.want {
			t.Errorf("Match(%v) = %v, want %v", c.f, got, c.want)
		}
	}
}

func TestMemoryIndexOrdersAndFilters(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	e := Local{}
	texts := []string{"reset your password in settings", "office hours and holidays", "password rules and length"}
	vs, _ := e.Embed(ctx, texts)
	var put []Vector
	for i, v := range vs {
		put = append(put, Vector{Key: fmt.Sprint("k", i), Data: v, Meta: map[string]any{"bot": []string{"b1", "b1", "b2"}[i]}})
	}
	if err := m.Put(ctx, put); err != nil {
		t.Fatal(err)
	}
	q, _ := e.Embed(ctx, []string{"how to reset a password"})
	hits, _ := m.Query(ctx, q[0], 2, nil)
	if len(hits) != 2 || hits[0].Key != "k0" || hits[0].Score < hits[1].Score {
		t.Fatalf("hits %+v", hits)
	}
	hits, _ = m.Query(ctx, q[0], 5, Filter{"bot": "b2"})
	if len(hits) != 1 || hits[0].Key != "k2" {
		t.Fatalf("filtered hits %+v", hits)
	}
	_ = m.Delete(ctx, []string{"k0", "nope"})
	if m.Len() != 2 {
		t.Fatalf("%d vectors left", m.Len())
	}
}
