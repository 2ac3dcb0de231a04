// Package extracttest writes small but real documents for tests: PDF
// (through github.com/go-pdf/fpdf, the way many applications produce
// them), Word, PowerPoint and Excel files (Office Open XML zips, as Office
// writes their parts).
package extracttest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"html"
	"strings"

	"github.com/go-pdf/fpdf"
)

// Para is a paragraph of a generated document; Heading > 0 makes it a
// heading of that level.
type Para struct {
	Text    string
	Heading int
}

// PDF writes pages of paragraphs: headings in larger bold type, body text
// wrapped at the page width in 11-point Helvetica (fpdf's built-in font,
// WinAnsi-encoded).
func PDF(pages [][]Para) []byte {
	p := fpdf.New("P", "mm", "A4", "")
	p.SetCompression(true)
	tr := p.UnicodeTranslatorFromDescriptor("cp1252")
	for _, page := range pages {
		p.AddPage()
		for _, para := range page {
			if para.Heading > 0 {
				p.SetFont("Helvetica", "B", float64(22-4*para.Heading))
				p.MultiCell(0, 9, tr(para.Text), "", "L", false)
				p.Ln(2)
				continue
			}
			p.SetFont("Helvetica", "", 11)
			p.MultiCell(0, 5.5, tr(para.Text), "", "L", false)
			p.Ln(4)
		}
	}
	var b bytes.Buffer
	if err := p.Output(&b); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func zipOf(parts map[string]string) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	names := make([]string, 0, len(parts))
	for n := range parts {
		names = append(names, n)
	}
	// [Content_Types].xml first, as Office writes it.
	for i, n := range names {
		if n == "[Content_Types].xml" {
			names[0], names[i] = names[i], names[0]
		}
	}
	for _, n := range names {
		w, _ := z.Create(n)
		_, _ = w.Write([]byte(parts[n]))
	}
	_ = z.Close()
	return b.Bytes()
}

const xmlHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"

// DOCX writes a Word document: headings use the built-in "Heading N"
// styles (declared in styles.xml), rows of Table become a table.
func DOCX(paras []Para, table [][]string) []byte {
	var body strings.Builder
	for _, p := range paras {
		body.WriteString("<w:p>")
		if p.Heading > 0 {
			fmt.Fprintf(&body, `<w:pPr><w:pStyle w:val="Heading%d"/></w:pPr>`, p.Heading)
		}
		// Two runs, as Word splits text where formatting or editing changed.
		half := strings.LastIndex(p.Text[:len(p.Text)/2+1], " ")
		if half <= 0 {
			half = len(p.Text)
		}
		fmt.Fprintf(&body, `<w:r><w:t xml:space="preserve">%s</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">%s</w:t></w:r></w:p>`,
			html.EscapeString(p.Text[:half]), html.EscapeString(p.Text[half:]))
	}
	if len(table) > 0 {
		body.WriteString("<w:tbl>")
		for _, row := range table {
			body.WriteString("<w:tr>")
			for _, c := range row {
				fmt.Fprintf(&body, `<w:tc><w:p><w:r><w:t>%s</w:t></w:r></w:p></w:tc>`, html.EscapeString(c))
			}
			body.WriteString("</w:tr>")
		}
		body.WriteString("</w:tbl>")
	}
	var styles strings.Builder
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&styles, `<w:style w:type="paragraph" w:styleId="Heading%d"><w:name w:val="heading %d"/></w:style>`, i, i)
	}
	return zipOf(map[string]string{
		"[Content_Types].xml":          xmlHead + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/></Types>`,
		"_rels/.rels":                  xmlHead + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`,
		"word/_rels/document.xml.rels": xmlHead + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`,
		"word/document.xml":            xmlHead + `<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` + body.String() + `<w:sectPr/></w:body></w:document>`,
		"word/styles.xml":              xmlHead + `<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">` + styles.String() + `</w:styles>`,
	})
}

// Slide is one slide: a title and bullet paragraphs.
type Slide struct {
	Title   string
	Bullets []string
}

// PPTX writes a presentation.
func PPTX(slides []Slide) []byte {
	parts := map[string]string{
		"[Content_Types].xml":  xmlHead + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>`,
		"ppt/presentation.xml": xmlHead + `<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>`,
	}
	for i, s := range slides {
		var b strings.Builder
		b.WriteString(`<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree>`)
		fmt.Fprintf(&b, `<p:sp><p:nvSpPr><p:cNvPr id="2" name="Title"/><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>%s</a:t></a:r></a:p></p:txBody></p:sp>`, html.EscapeString(s.Title))
		b.WriteString(`<p:sp><p:nvSpPr><p:cNvPr id="3" name="Body"/><p:nvPr><p:ph idx="1"/></p:nvPr></p:nvSpPr><p:txBody>`)
		for _, t := range s.Bullets {
			fmt.Fprintf(&b, `<a:p><a:r><a:t>%s</a:t></a:r></a:p>`, html.EscapeString(t))
		}
		b.WriteString(`</p:txBody></p:sp></p:spTree></p:cSld></p:sld>`)
		parts[fmt.Sprintf("ppt/slides/slide%d.xml", i+1)] = xmlHead + b.String()
	}
	return zipOf(parts)
}

// XLSX writes a workbook of one sheet: the first row is the header;
// strings go to the shared-string table, numbers stay numbers.
func XLSX(sheet string, rows [][]string) []byte {
	var shared []string
	index := map[string]int{}
	var data strings.Builder
	for r, row := range rows {
		fmt.Fprintf(&data, `<row r="%d">`, r+1)
		for c, v := range row {
			ref := fmt.Sprintf("%c%d", 'A'+c, r+1)
			var f float64
			if _, err := fmt.Sscanf(v, "%g", &f); err == nil && fmt.Sprint(f) == v {
				fmt.Fprintf(&data, `<c r="%s"><v>%s</v></c>`, ref, v)
				continue
			}
			i, ok := index[v]
			if !ok {
				i = len(shared)
				index[v] = i
				shared = append(shared, v)
			}
			fmt.Fprintf(&data, `<c r="%s" t="s"><v>%d</v></c>`, ref, i)
		}
		data.WriteString(`</row>`)
	}
	var sst strings.Builder
	for _, s := range shared {
		fmt.Fprintf(&sst, `<si><t>%s</t></si>`, html.EscapeString(s))
	}
	return zipOf(map[string]string{
		"[Content_Types].xml":        xmlHead + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>`,
		"xl/workbook.xml":            xmlHead + `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="` + html.EscapeString(sheet) + `" sheetId="1" r:id="rId1"/></sheets></workbook>`,
		"xl/_rels/workbook.xml.rels": xmlHead + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
		"xl/sharedStrings.xml":       xmlHead + `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` + sst.String() + `</sst>`,
		"xl/worksheets/sheet1.xml":   xmlHead + `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` + data.String() + `</sheetData></worksheet>`,
	})
}
