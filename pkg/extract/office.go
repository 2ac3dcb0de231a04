package extract

import (
	"archive/zip"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Office Open XML (.docx, .pptx, .xlsx) is a zip of XML parts, read here
// with archive/zip and encoding/xml's streaming decoder.

func openZip(r io.ReaderAt, size int64, what, ext string) (*zip.Reader, error) {
	z, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fail("the %s is damaged or not a %sx file (legacy %s files are not supported: save it as %sx)", what, ext, ext, ext)
	}
	return z, nil
}

func zipFile(z *zip.Reader, name string) *zip.File {
	for _, f := range z.File {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// maxPart bounds one XML part's uncompressed size (a zip bomb is a file
// that cannot be read, not an out-of-memory worker).
const maxPart = 256 << 20

func decoder(f *zip.File) (*xml.Decoder, io.Closer, error) {
	if f.UncompressedSize64 > maxPart {
		return nil, nil, fail("%s is too large to index (%d MB uncompressed)", f.Name, f.UncompressedSize64>>20)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, nil, fail("the document is damaged: %s cannot be opened (%v)", f.Name, err)
	}
	d := xml.NewDecoder(io.LimitReader(rc, maxPart))
	d.Strict = false
	return d, rc, nil
}

func attr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// ---- Word

// docxBlocks reads word/document.xml: paragraphs with their style
// (headings by style name or outline level, list items by numbering) and
// tables row by row.
func docxBlocks(r io.ReaderAt, size int64, emit func(Block) error) error {
	z, err := openZip(r, size, "Word document", ".doc")
	if err != nil {
		return err
	}
	doc := zipFile(z, "word/document.xml")
	if doc == nil {
		return fail("the Word document is damaged: it has no word/document.xml")
	}
	headings := docxHeadingStyles(z)
	d, c, err := decoder(doc)
	if err != nil {
		return err
	}
	defer c.Close()

	var (
		text      strings.Builder
		style     string
		outline   = -1
		listItem  bool
		inText    bool
		tableDeep int
		cells     []string
	)
	endParagraph := func() error {
		t := space(text.String())
		text.Reset()
		defer func() { style, outline, listItem = "", -1, false }()
		if tableDeep > 0 {
			if t != "" {
				if n := len(cells); n > 0 && cells[n-1] != "" {
					cells[n-1] += " " + t
				} else if n > 0 {
					cells[n-1] = t
				}
			}
			return nil
		}
		level := headings[style]
		if outline >= 0 && level == 0 {
			level = outline + 1
		}
		switch {
		case level == 1:
			return emit(Block{Text: t, Kind: Title, Level: 1})
		case level > 1:
			return emit(Block{Text: t, Kind: Subtitle, Level: level})
		case listItem:
			return emit(Block{Text: t, Kind: List})
		}
		return emit(Block{Text: t, Kind: Paragraph})
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fail("the Word document is damaged: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			switch e.Name.Local {
			case "pStyle":
				style = attr(e, "val")
			case "outlineLvl":
				outline, _ = strconv.Atoi(attr(e, "val"))
			case "numPr":
				listItem = true
			case "t":
				inText = true
			case "tab":
				text.WriteByte(' ')
			case "br", "cr":
				text.WriteByte(' ')
			case "tbl":
				tableDeep++
			case "tc":
				cells = append(cells, "")
			}
		case xml.EndElement:
			switch e.Name.Local {
			case "t":
				inText = false
			case "p":
				if err := endParagraph(); err != nil {
					return err
				}
			case "tr":
				if row := tableRow(cells); row != "" && tableDeep == 1 {
					if err := emit(Block{Text: row, Kind: Table}); err != nil {
						return err
					}
				}
				cells = cells[:0]
			case "tbl":
				tableDeep--
			}
		case xml.CharData:
			if inText {
				text.Write(e)
			}
		}
	}
}

func tableRow(cells []string) string {
	var parts []string
	for _, c := range cells {
		if c = strings.TrimSpace(c); c != "" {
			parts = append(parts, c)
		}
	}
	return strings.Join(parts, " | ")
}

// docxHeadingStyles maps style ids to heading levels from word/styles.xml
// (names "heading N", "Title", "Subtitle", whatever the ids are called in
// the document's language), plus the built-in English ids.
func docxHeadingStyles(z *zip.Reader) map[string]int {
	out := map[string]int{"Title": 1, "Subtitle": 2}
	for i := 1; i <= 9; i++ {
		out["Heading"+strconv.Itoa(i)] = i
	}
	f := zipFile(z, "word/styles.xml")
	if f == nil {
		return out
	}
	d, c, err := decoder(f)
	if err != nil {
		return out
	}
	defer c.Close()
	var id string
	for {
		tok, err := d.Token()
		if err != nil {
			return out
		}
		e, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch e.Name.Local {
		case "style":
			id = attr(e, "styleId")
		case "name":
			name := strings.ToLower(attr(e, "val"))
			switch {
			case name == "title":
				out[id] = 1
			case name == "subtitle":
				out[id] = 2
			case strings.HasPrefix(name, "heading "):
				if n, err := strconv.Atoi(strings.TrimPrefix(name, "heading ")); err == nil {
					out[id] = n
				}
			}
		}
	}
}

// ---- PowerPoint

// pptxBlocks reads each slide in order: its title placeholder is a
// heading, its other text paragraphs follow; the slide number is the page.
func pptxBlocks(r io.ReaderAt, size int64, emit func(Block) error) error {
	z, err := openZip(r, size, "PowerPoint presentation", ".ppt")
	if err != nil {
		return err
	}
	var slides []*zip.File
	for _, f := range z.File {
		if strings.HasPrefix(f.Name, "ppt/slides/slide") && strings.HasSuffix(f.Name, ".xml") {
			slides = append(slides, f)
		}
	}
	if len(slides) == 0 {
		return fail("the PowerPoint presentation is damaged or has no slides")
	}
	sort.Slice(slides, func(i, j int) bool { return slideNumber(slides[i].Name) < slideNumber(slides[j].Name) })
	for i, f := range slides {
		if err := pptxSlide(f, i+1, emit); err != nil {
			return err
		}
	}
	return nil
}

func slideNumber(name string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "ppt/slides/slide"), ".xml"))
	return n
}

func pptxSlide(f *zip.File, page int, emit func(Block) error) error {
	d, c, err := decoder(f)
	if err != nil {
		return err
	}
	defer c.Close()
	var text strings.Builder
	title, inText := false, false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fail("slide %d of the presentation is damaged: %v", page, err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			switch e.Name.Local {
			case "sp":
				title = false
			case "ph":
				t := attr(e, "type")
				title = t == "title" || t == "ctrTitle"
			case "t":
				inText = true
			case "br":
				text.WriteByte(' ')
			}
		case xml.EndElement:
			switch e.Name.Local {
			case "t":
				inText = false
			case "p":
				t := text.String()
				text.Reset()
				b := Block{Text: t, Kind: Paragraph, Page: page}
				if title {
					b.Kind, b.Level = Subtitle, 2
				}
				if err := emit(b); err != nil {
					return err
				}
			}
		case xml.CharData:
			if inText {
				text.Write(e)
			}
		}
	}
}

// ---- Excel

// xlsxBlocks reads each worksheet in workbook order: its name is a
// heading, its first non-empty row the header, and every other row a
// table block "Header: value; Header: value".
func xlsxBlocks(r io.ReaderAt, size int64, emit func(Block) error) error {
	z, err := openZip(r, size, "Excel workbook", ".xls")
	if err != nil {
		return err
	}
	shared, err := xlsxSharedStrings(z)
	if err != nil {
		return err
	}
	sheets := xlsxSheets(z)
	if len(sheets) == 0 {
		return fail("the Excel workbook is damaged or has no worksheets")
	}
	for _, s := range sheets {
		f := zipFile(z, s.part)
		if f == nil {
			continue
		}
		if err := emit(Block{Text: s.name, Kind: Subtitle, Level: 2}); err != nil {
			return err
		}
		if err := xlsxSheet(f, shared, emit); err != nil {
			return err
		}
	}
	return nil
}

type sheetRef struct{ name, part string }

// xlsxSheets lists the worksheets in workbook order with their parts
// (workbook.xml names them, its relationships locate them).
func xlsxSheets(z *zip.Reader) []sheetRef {
	rels := map[string]string{}
	if f := zipFile(z, "xl/_rels/workbook.xml.rels"); f != nil {
		if d, c, err := decoder(f); err == nil {
			for {
				tok, err := d.Token()
				if err != nil {
					break
				}
				if e, ok := tok.(xml.StartElement); ok && e.Name.Local == "Relationship" {
					target := attr(e, "Target")
					if !strings.HasPrefix(target, "/") {
						target = "xl/" + target
					}
					rels[attr(e, "Id")] = strings.TrimPrefix(target, "/")
				}
			}
			c.Close()
		}
	}
	var out []sheetRef
	if f := zipFile(z, "xl/workbook.xml"); f != nil {
		if d, c, err := decoder(f); err == nil {
			for {
				tok, err := d.Token()
				if err != nil {
					break
				}
				if e, ok := tok.(xml.StartElement); ok && e.Name.Local == "sheet" {
					if part := rels[attr(e, "id")]; part != "" {
						out = append(out, sheetRef{name: attr(e, "name"), part: part})
					}
				}
			}
			c.Close()
		}
	}
	if len(out) == 0 {
		for _, f := range z.File {
			if strings.HasPrefix(f.Name, "xl/worksheets/sheet") && strings.HasSuffix(f.Name, ".xml") {
				out = append(out, sheetRef{name: strings.TrimSuffix(path.Base(f.Name), ".xml"), part: f.Name})
			}
		}
	}
	return out
}

func xlsxSharedStrings(z *zip.Reader) ([]string, error) {
	f := zipFile(z, "xl/sharedStrings.xml")
	if f == nil {
		return nil, nil
	}
	d, c, err := decoder(f)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []string
	var cur strings.Builder
	inText, inPhonetic := false, false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fail("the Excel workbook is damaged: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			switch e.Name.Local {
			case "t":
				inText = true
			case "rPh":
				inPhonetic = true
			}
		case xml.EndElement:
			switch e.Name.Local {
			case "t":
				inText = false
			case "rPh":
				inPhonetic = false
			case "si":
				out = append(out, cur.String())
				cur.Reset()
			}
		case xml.CharData:
			if inText && !inPhonetic {
				cur.Write(e)
			}
		}
	}
}

func xlsxSheet(f *zip.File, shared []string, emit func(Block) error) error {
	d, c, err := decoder(f)
	if err != nil {
		return err
	}
	defer c.Close()
	var (
		header, row []string
		cellType    string
		col         int
		value       strings.Builder
		inValue     bool
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fail("the Excel workbook is damaged: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			switch e.Name.Local {
			case "row":
				row = row[:0]
			case "c":
				cellType, col = attr(e, "t"), columnIndex(attr(e, "r"), len(row))
				value.Reset()
			case "v", "t":
				inValue = true
			}
		case xml.EndElement:
			switch e.Name.Local {
			case "v", "t":
				inValue = false
			case "c":
				v := value.String()
				switch cellType {
				case "s":
					if i, err := strconv.Atoi(v); err == nil && i >= 0 && i < len(shared) {
						v = shared[i]
					}
				case "b":
					v = map[string]string{"1": "TRUE", "0": "FALSE"}[v]
				}
				for len(row) < col {
					row = append(row, "")
				}
				row = append(row, space(v))
			case "row":
				if header == nil {
					if tableRow(row) != "" {
						header = append([]string(nil), row...)
					}
					continue
				}
				if err := emit(Block{Text: labelled(header, row), Kind: Table}); err != nil {
					return err
				}
			}
		case xml.CharData:
			if inValue {
				value.Write(e)
			}
		}
	}
}

// columnIndex is the 0-based column of a cell reference ("C7" is 2), or
// next when the reference is missing.
func columnIndex(ref string, next int) int {
	n := 0
	for _, r := range ref {
		if r < 'A' || r > 'Z' {
			break
		}
		n = n*26 + int(r-'A'+1)
	}
	if n == 0 {
		return next
	}
	return n - 1
}

// labelled renders a row with its header: "Name: Widget; Price: 10".
func labelled(header, row []string) string {
	var parts []string
	for i, v := range row {
		if v == "" {
			continue
		}
		h := ""
		if i < len(header) {
			h = header[i]
		}
		if h == "" {
			h = fmt.Sprintf("column %d", i+1)
		}
		parts = append(parts, h+": "+v)
	}
	return strings.Join(parts, "; ")
}
