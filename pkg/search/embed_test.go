package search

import (
	"context"
	"testing"
)

func TestLocalRanksSharedWordsFirst(t *testing.T) {
	e := Local{}
	vs, err := e.Embed(context.Background(), []string{
		"How do I reset my password?",
		"Resetting a password: open Settings, then Security, then Reset password.",
		"Our office is closed on public holidays.",
	})
	if err != nil {
		t.Fatal(err)
	}
	near, far := Cosine(vs[0], vs[1]), Cosine(vs[0], vs[2])
	if near <= far || near < 0.3 {
		t.Fatalf("related %.3f, unrelated %.3f", near, far)
	}
	if c := Cosine(vs[1], vs[1]); c < 0.999 {
		t.Fatalf("self-similarity %.3f", c)
	}
	if len(vs[0]) != e.Dimensions() {
		t.Fatalf("%d dimensions, want %d", len(vs[0]), e.Dimensions())
	}
}
