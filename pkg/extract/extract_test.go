package extract_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/extract"
	"github.com/parley-dev/parley/pkg/extract/extracttest"
)

func blocks(t *testing.T, f extract.Format, data []byte) []extract.Block {
	t.Helper()
	var out []extract.Block
	if err := extract.Blocks(f, bytes.NewReader(data), int64(len(data)), func(b extract.Block) error { out = append(out, b); return nil }); err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return out
}

func render(bs []extract.Block) string {
	var b strings.Builder
	for _, x := range bs {
		fmt.Fprintf(&b, "%s%d p%d: %s\n", x.Kind, x.Level, x.Page, x.Text)
	}
	return b.String()
}

func wantBlocks(t *testing.T, got []extract.Block, want string) {
	t.Helper()
	if g := render(got); strings.TrimSpace(g) != strings.TrimSpace(want) {
		t.Fatalf("blocks:\n%s\nwant:\n%s", g, want)
	}
}

func TestPDF(t *testing.T) {
	long := strings.Repeat("Refunds are paid within fourteen days of the return. ", 6)
	data := extracttest.PDF([][]extracttest.Para{
		{{Text: "Returns policy", Heading: 1}, {Text: long}, {Text: "Items must be unused."}},
		{{Text: "Shipping", Heading: 2}, {Text: "We ship to Canada, Mexico and the United States — café orders included."}},
	})
	got := blocks(t, extract.PDF, data)
	wantBlocks(t, got, `
title1 p1: Returns policy
paragraph0 p1: `+strings.TrimSpace(long)+`
paragraph0 p1: Items must be unused.
subtitle2 p2: Shipping
paragraph0 p2: We ship to Canada, Mexico and the United States — café orders included.`)
}

func TestOfficeFormats(t *testing.T) {
	docx := extracttest.DOCX([]extracttest.Para{
		{Text: "Employee handbook", Heading: 1},
		{Text: "Leave", Heading: 2},
		{Text: "Employees accrue two days of paid leave per month & may carry over five days."},
	}, [][]string{{"Grade", "Days"}, {"Junior", "20"}})
	wantBlocks(t, blocks(t, extract.DOCX, docx), `
title1 p0: Employee handbook
subtitle2 p0: Leave
paragraph0 p0: Employees accrue two days of paid leave per month & may carry over five days.
table0 p0: Grade | Days
table0 p0: Junior | 20`)

	pptx := extracttest.PPTX([]extracttest.Slide{
		{Title: "Roadmap", Bullets: []string{"Launch in March", "Beta for partners"}},
		{Title: "Pricing", Bullets: []string{"Team plan at 89 dollars"}},
	})
	wantBlocks(t, blocks(t, extract.PPTX, pptx), `
subtitle2 p1: Roadmap
paragraph0 p1: Launch in March
paragraph0 p1: Beta for partners
subtitle2 p2: Pricing
paragraph0 p2: Team plan at 89 dollars`)

	xlsx := extracttest.XLSX("Prices", [][]string{{"Product", "Price", "Stock"}, {"Widget", "10.5", "3"}, {"Gadget", "7", ""}})
	wantBlocks(t, blocks(t, extract.XLSX, xlsx), `
subtitle2 p0: Prices
table0 p0: Product: Widget; Price: 10.5; Stock: 3
table0 p0: Product: Gadget; Price: 7`)
}

func TestMarkupFormats(t *testing.T) {
	page := `<!doctype html><html><head><title>Help centre</title><style>p{color:red}</style><script>var x = "<p>no</p>";</script></head>
<body><nav><a href="/">Home</a></nav><h2>Accounts</h2><p>To close an account, <b>write</b> to us.<br>We answer in a day.</p>
<ul><li>First item</li><li>Second item</li></ul><table><tr><th>Plan</th><th>Price</th></tr><tr><td>Team</td><td>89</td></tr></table>
<pre>curl https://example.com</pre></body></html>`
	wantBlocks(t, blocks(t, extract.HTML, []byte(page)), `
title1 p0: Help centre
subtitle2 p0: Accounts
paragraph0 p0: To close an account, write to us. We answer in a day.
list0 p0: First item
list0 p0: Second item
table0 p0: Plan | Price
table0 p0: Team | 89
code0 p0: curl https://example.com`)

	md := "# Guide\n\nSome **bold** text, _stressed_ `starting_after` and a [link](https://x.y)\nover two lines.\n\nSetext\n------\n\n- one\n- two\n\n```go\nfmt.Println(1)\n```\n\n| Name | Age |\n|---|---|\n| Ann | 31 |\n\n> quoted\n"
	wantBlocks(t, blocks(t, extract.Markdown, []byte(md)), `
title1 p0: Guide
paragraph0 p0: Some bold text, stressed starting_after and a link over two lines.
subtitle2 p0: Setext
list0 p0: one
list0 p0: two
code0 p0: fmt.Println(1)
table0 p0: Name: Ann; Age: 31
blockquote0 p0: quoted`)

	csvData := "city;country;population\nLyon;France;\"522,000\"\nOsaka;Japan;2.7 million\n"
	wantBlocks(t, blocks(t, extract.CSV, []byte(csvData)), `
table0 p0: city: Lyon; country: France; population: 522,000
table0 p0: city: Osaka; country: Japan; population: 2.7 million`)

	js := `[{"q":"How long is the warranty?","a":"Two years","tags":["a","b"]},{"q":"Do you ship abroad?","a":null}]`
	wantBlocks(t, blocks(t, extract.JSON, []byte(js)), `
paragraph0 p0: a: Two years; q: How long is the warranty?; tags.0: a; tags.1: b
paragraph0 p0: q: Do you ship abroad?`)

	text := "First paragraph\nwraps here.\n\n\nSecond one.\r\n"
	wantBlocks(t, blocks(t, extract.Text, []byte(text)), `
paragraph0 p0: First paragraph wraps here.
paragraph0 p0: Second one.`)
	// Latin-1 text reads as text.
	wantBlocks(t, blocks(t, extract.Text, []byte("caf\xe9 cr\xe8me")), `paragraph0 p0: café crème`)
}

func TestUnreadableFilesSayWhy(t *testing.T) {
	for _, c := range []struct {
		f    extract.Format
		data []byte
		want string
	}{
		{extract.PDF, []byte("%PDF-1.4\nnot really"), "the PDF is damaged"},
		{extract.PDF, extracttest.PDF([][]extracttest.Para{{}}), "no text to index"},
		{extract.DOCX, []byte("PK\x03\x04garbage"), "Word document is damaged or not a .docx file (legacy .doc"},
		{extract.XLSX, []byte("plain"), "Excel workbook is damaged"},
		{extract.JSON, []byte(`{"a": }`), "JSON file is malformed at offset"},
		{extract.Text, []byte("\x00\x01\x02binary"), "binary, not text"},
		{extract.Text, []byte("   \n\n  "), "holds no text"},
		{extract.CSV, []byte("a,b\n\x00,1\n"), "binary, not text"},
	} {
		err := extract.Blocks(c.f, bytes.NewReader(c.data), int64(len(c.data)), func(extract.Block) error { return nil })
		var e *extract.Error
		if !errors.As(err, &e) || !strings.Contains(e.Reason, c.want) {
			t.Errorf("%s %q: %v, want a reason with %q", c.f, c.data[:min(len(c.data), 20)], err, c.want)
		}
	}
}

func TestFormatOf(t *testing.T) {
	for _, c := range []struct {
		ct, name string
		want     extract.Format
		ok       bool
	}{
		{"application/pdf", "x", extract.PDF, true},
		{"text/plain; charset=utf-8", "notes.md", extract.Text, true},
		{"text/markdown", "a", extract.Markdown, true},
		{"application/octet-stream", "report.DOCX", extract.DOCX, true},
		{"text/x-unknown", "data.csv", extract.CSV, true},
		{"image/png", "a.png", "", false},
	} {
		f, ok := extract.FormatOf(c.ct, c.name)
		if f != c.want || ok != c.ok {
			t.Errorf("FormatOf(%q, %q) = %q %v", c.ct, c.name, f, ok)
		}
	}
}
