package extract

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"unicode"

	"github.com/ledongthuc/pdf"
)

// pdfBlocks reads a PDF a page at a time: each page's glyphs (with their
// position and size) become lines, lines become paragraphs where the gap
// between them stays within a line's height, and a line set clearly larger
// than the page's body text is a heading.
func pdfBlocks(r io.ReaderAt, size int64, emit func(Block) error) error {
	doc, err := pdf.NewReader(pdf20{r}, size)
	switch {
	case errors.Is(err, pdf.ErrInvalidPassword) || (err != nil && strings.Contains(err.Error(), "encrypt")):
		return fail("the PDF is password-protected: upload it without a password")
	case err != nil:
		return fail("the PDF is damaged or not a PDF (%v)", err)
	}
	for n := 1; n <= doc.NumPage(); n++ {
		p := doc.Page(n)
		if p.V.IsNull() {
			continue
		}
		if err := pdfPage(p, n, emit); err != nil {
			return err
		}
	}
	return nil
}

// pdf20 presents a PDF 2.0 header as 1.7, which the reader otherwise
// refuses although it reads the rest of such files.
type pdf20 struct{ io.ReaderAt }

func (p pdf20) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.ReaderAt.ReadAt(b, off)
	if off == 0 && n >= 8 && bytes.HasPrefix(b, []byte("%PDF-2.")) {
		copy(b[5:8], "1.7")
	}
	return n, err
}

type pdfLine struct {
	text strings.Builder
	y    float64
	size float64
}

func pdfPage(p pdf.Page, page int, emit func(Block) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fail("page %d of the PDF is damaged (%v)", page, r)
		}
	}()
	glyphs := p.Content().Text
	var lines []*pdfLine
	var cur *pdfLine
	var lastX, lastW float64
	weights := map[float64]int{}
	for _, g := range glyphs {
		if g.S == "\n" {
			continue
		}
		sz := math.Round(g.FontSize*2) / 2
		if cur == nil || math.Abs(g.Y-cur.y) > math.Max(sz, cur.size)*0.5 {
			cur = &pdfLine{y: g.Y, size: sz}
			lines = append(lines, cur)
		} else if gap := g.X - (lastX + lastW); gap > sz*0.2 && !strings.HasSuffix(cur.text.String(), " ") && g.S != " " {
			cur.text.WriteByte(' ') // words set apart by positioning, not by a space
		}
		cur.text.WriteString(g.S)
		if strings.TrimSpace(g.S) != "" {
			cur.size = math.Max(cur.size, sz)
			weights[sz]++
		}
		lastX, lastW = g.X, g.W
	}
	body, most := 0.0, 0
	for sz, n := range weights {
		if n > most || (n == most && sz < body) {
			body, most = sz, n
		}
	}
	var para strings.Builder
	var prev *pdfLine
	flush := func() error {
		t := para.String()
		para.Reset()
		return emit(Block{Text: t, Kind: Paragraph, Page: page})
	}
	for _, l := range lines {
		text := space(l.text.String())
		if text == "" {
			continue
		}
		if body > 0 && l.size >= body*1.15 && len(text) <= 150 {
			if err := flush(); err != nil {
				return err
			}
			kind, level := Subtitle, 2
			if l.size >= body*1.6 {
				kind, level = Title, 1
			}
			if err := emit(Block{Text: text, Kind: kind, Level: level, Page: page}); err != nil {
				return err
			}
			prev = nil
			continue
		}
		if prev != nil && math.Abs(prev.y-l.y) > math.Max(l.size, prev.size)*1.6 {
			if err := flush(); err != nil {
				return err
			}
		}
		if para.Len() > 0 {
			s := para.String()
			if last := []rune(s); strings.HasSuffix(s, "-") && len(last) > 1 && unicode.IsLetter(last[len(last)-2]) && startsLower(text) {
				// A word hyphenated across lines is one word.
				para.Reset()
				para.WriteString(strings.TrimSuffix(s, "-"))
			} else {
				para.WriteByte(' ')
			}
		}
		para.WriteString(text)
		prev = l
	}
	return flush()
}

func startsLower(s string) bool {
	for _, r := range s {
		return unicode.IsLower(r)
	}
	return false
}
