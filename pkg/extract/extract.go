// Package extract turns documents into text for search: it reads PDF,
// Word (.docx), PowerPoint (.pptx), Excel (.xlsx), HTML, Markdown, CSV,
// JSON and plain text into ordered blocks (headings, paragraphs, list
// items, table rows, code) with the page they are on, and packs blocks into
// passages sized for embedding, sentence- and heading-aware (chunk.go).
//
// Everything streams: blocks are handed to a callback as they are read (a
// PDF one page at a time), so memory holds a page and the passages being
// packed, never the whole document's text. Nothing here uses the network.
// A document that cannot be read fails with an *Error whose Reason is
// written for the person who uploaded it.
package extract

import (
	"fmt"
	"io"
	"mime"
	"path"
	"strings"
)

// Kind is what a block holds; the passages' meta.subtype uses these names.
type Kind string

// Block kinds.
const (
	Title      Kind = "title"
	Subtitle   Kind = "subtitle"
	Paragraph  Kind = "paragraph"
	List       Kind = "list"
	Table      Kind = "table"
	Code       Kind = "code"
	Blockquote Kind = "blockquote"
)

// Block is one element of a document, in reading order.
type Block struct {
	Text string
	Kind Kind
	// Level is a heading's level (1 for a document title or h1); 0 for
	// other blocks.
	Level int
	// Page is the 1-based page (a PDF's page, a presentation's slide); 0
	// when the format has no pages.
	Page int
}

// Heading reports whether the block is a heading.
func (b Block) Heading() bool { return b.Kind == Title || b.Kind == Subtitle }

// Error is a document that cannot be read; Reason says why, in words the
// uploader understands.
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

func fail(format string, args ...any) error { return &Error{Reason: fmt.Sprintf(format, args...)} }

// Format is a document format this package reads.
type Format string

// Formats.
const (
	PDF      Format = "pdf"
	DOCX     Format = "docx"
	PPTX     Format = "pptx"
	XLSX     Format = "xlsx"
	HTML     Format = "html"
	Markdown Format = "markdown"
	CSV      Format = "csv"
	JSON     Format = "json"
	Text     Format = "text"
)

var byType = map[string]Format{
	"application/pdf": PDF,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   DOCX,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": PPTX,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         XLSX,
	"text/html":             HTML,
	"application/xhtml+xml": HTML,
	"text/markdown":         Markdown,
	"text/x-markdown":       Markdown,
	"text/csv":              CSV,
	"application/csv":       CSV,
	"application/json":      JSON,
	"text/plain":            Text,
}

var byExt = map[string]Format{
	".pdf": PDF, ".docx": DOCX, ".pptx": PPTX, ".xlsx": XLSX, ".html": HTML, ".htm": HTML, ".xhtml": HTML,
	".md": Markdown, ".markdown": Markdown, ".csv": CSV, ".json": JSON, ".txt": Text, ".text": Text, ".log": Text,
}

// FormatOf finds the format of a file from its content type, or else from
// its name's extension.
func FormatOf(contentType, name string) (Format, bool) {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		if f, ok := byType[mt]; ok {
			return f, true
		}
		if strings.HasPrefix(mt, "text/") {
			if f, ok := byExt[strings.ToLower(path.Ext(name))]; ok {
				return f, true
			}
			return Text, true
		}
	}
	f, ok := byExt[strings.ToLower(path.Ext(name))]
	return f, ok
}

// Unsupported is the reason given for a file of a format not indexed.
func Unsupported(contentType string) error {
	return fail("files of type %s cannot be indexed: upload a PDF, Word (.docx), PowerPoint (.pptx), Excel (.xlsx), HTML, Markdown, CSV, JSON or plain-text file, or upload it with index: false", contentType)
}

// Blocks reads the document r (size bytes) in format f and calls emit with
// each block in reading order. It fails with an *Error for a document that
// cannot be read, or with emit's error.
func Blocks(f Format, r io.ReaderAt, size int64, emit func(Block) error) (err error) {
	// A parser's panic on a malformed file is a file that cannot be read,
	// not a crash of the worker.
	defer func() {
		if p := recover(); p != nil {
			err = fail("the %s file is damaged or not what its name says (%v)", f, p)
		}
	}()
	counted := &nonEmpty{emit: emit}
	switch f {
	case PDF:
		err = pdfBlocks(r, size, counted.add)
	case DOCX:
		err = docxBlocks(r, size, counted.add)
	case PPTX:
		err = pptxBlocks(r, size, counted.add)
	case XLSX:
		err = xlsxBlocks(r, size, counted.add)
	case HTML:
		err = htmlBlocks(io.NewSectionReader(r, 0, size), counted.add)
	case Markdown:
		err = markdownBlocks(io.NewSectionReader(r, 0, size), counted.add)
	case CSV:
		err = csvBlocks(io.NewSectionReader(r, 0, size), counted.add)
	case JSON:
		err = jsonBlocks(io.NewSectionReader(r, 0, size), counted.add)
	case Text:
		err = textBlocks(io.NewSectionReader(r, 0, size), counted.add)
	default:
		return fail("files of format %q cannot be indexed", f)
	}
	if err != nil {
		return err
	}
	if counted.n == 0 {
		if f == PDF {
			return fail("the PDF has no text to index: it may hold only scanned images (run it through OCR first)")
		}
		return fail("the file holds no text to index")
	}
	return nil
}

// nonEmpty drops blank blocks and counts the others.
type nonEmpty struct {
	emit func(Block) error
	n    int
}

func (c *nonEmpty) add(b Block) error {
	b.Text = strings.TrimSpace(b.Text)
	if b.Text == "" {
		return nil
	}
	if b.Kind == "" {
		b.Kind = Paragraph
	}
	c.n++
	return c.emit(b)
}

// space collapses runs of white space into one space.
func space(s string) string { return strings.Join(strings.Fields(s), " ") }
