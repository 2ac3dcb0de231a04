package extract_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parley-dev/parley/pkg/extract"
)

func chunk(t *testing.T, bs []extract.Block) []extract.Passage {
	t.Helper()
	var out []extract.Passage
	c := extract.NewChunker(func(p extract.Passage) error { out = append(out, p); return nil })
	for _, b := range bs {
		if err := c.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if c.Passages() != len(out) {
		t.Fatalf("Passages() = %d, emitted %d", c.Passages(), len(out))
	}
	return out
}

func TestChunkerPacksBySectionAndSentence(t *testing.T) {
	sentence := "The warranty covers defects in materials for two full years. "
	long := strings.Repeat(sentence, 30) // ~1,800 characters
	got := chunk(t, []extract.Block{
		{Text: "Handbook", Kind: extract.Title, Level: 1, Page: 1},
		{Text: "Warranty", Kind: extract.Subtitle, Level: 2, Page: 1},
		{Text: "Short one.", Kind: extract.Paragraph, Page: 1},
		{Text: "Short two.", Kind: extract.Paragraph, Page: 1},
		{Text: long, Kind: extract.Paragraph, Page: 2},
		{Text: "Returns", Kind: extract.Subtitle, Level: 2, Page: 3},
		{Text: "Return within 30 days.", Kind: extract.Paragraph, Page: 3},
		{Text: "Empty section", Kind: extract.Subtitle, Level: 2, Page: 4},
		{Text: "Appendix", Kind: extract.Title, Level: 1, Page: 4},
	})
	if got[0].Content != "Handbook" || got[0].Subtype != extract.Title {
		t.Fatalf("a heading with nothing under it is kept: %+v", got[0])
	}
	// The heading leads the passage and small blocks of a section join; the
	// long block that follows is split between sentences on its own.
	if got[1].Content != "Warranty\nShort one. Short two." || got[1].Context != "Handbook > Warranty" || got[1].Page != 1 {
		t.Fatalf("passage 1: %+v", got[1])
	}
	for i, p := range got {
		if p.Position != i {
			t.Fatalf("passage %d has position %d", i, p.Position)
		}
		if n := utf8.RuneCountInString(p.Content); n > extract.DefaultMax {
			t.Fatalf("passage %d has %d characters", i, n)
		}
		if strings.Contains(p.Content, "defects") && !strings.HasSuffix(strings.TrimSpace(p.Content), "years.") {
			t.Fatalf("passage %d ends mid-sentence: %q", i, p.Content)
		}
	}
	var returns *extract.Passage
	for i := range got {
		if strings.HasPrefix(got[i].Content, "Returns\n") {
			returns = &got[i]
		}
	}
	if returns == nil || returns.Context != "Handbook > Returns" || returns.Page != 3 || returns.Embedding() != "Handbook > Returns\nReturns\nReturn within 30 days." {
		t.Fatalf("returns passage: %+v", returns)
	}
	last := got[len(got)-1]
	if last.Content != "Appendix" || last.Context != "Appendix" {
		t.Fatalf("last: %+v", last)
	}
	if got[len(got)-2].Content != "Empty section" {
		t.Fatalf("empty section: %+v", got[len(got)-2])
	}
}

func TestChunkerTablesAndLongWords(t *testing.T) {
	var bs []extract.Block
	for i := 0; i < 20; i++ {
		bs = append(bs, extract.Block{Text: "Product: Widget number " + strings.Repeat("x", i%3) + "; Price: 10; Stock: 3", Kind: extract.Table})
	}
	bs = append(bs, extract.Block{Text: strings.Repeat("a", 2500), Kind: extract.Paragraph})
	got := chunk(t, bs)
	rows := 0
	for _, p := range got {
		if p.Subtype == extract.Table {
			rows += strings.Count(p.Content, "\n") + 1
			if utf8.RuneCountInString(p.Content) > 300 {
				t.Fatalf("table passage of %d characters", utf8.RuneCountInString(p.Content))
			}
		}
		if utf8.RuneCountInString(p.Content) > extract.DefaultMax {
			t.Fatalf("passage of %d characters", utf8.RuneCountInString(p.Content))
		}
	}
	if rows != 20 {
		t.Fatalf("%d table rows in passages, want 20", rows)
	}
}

func TestSentences(t *testing.T) {
	got := extract.Sentences(`Mr. Smith paid $3.50 for it. Then he left! Did he return? "Yes." e.g. this stays. 2 items shipped.`)
	want := []string{"Mr. Smith paid $3.50 for it.", "Then he left!", "Did he return?", `"Yes." e.g. this stays.`, "2 items shipped."}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("%q", got)
	}
}
