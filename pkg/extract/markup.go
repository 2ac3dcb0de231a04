package extract

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// ---- HTML

// htmlBlocks tokenizes HTML (golang.org/x/net/html): h1–h6 are headings,
// the page title a title, block elements (p, li, td, pre, blockquote…)
// end blocks; scripts, styles and navigation chrome are skipped.
func htmlBlocks(r io.Reader, emit func(Block) error) error {
	z := html.NewTokenizer(r)
	var text strings.Builder
	kind, level := Paragraph, 0
	skip := 0
	var cells []string
	inRow := false
	flush := func() error {
		t := text.String()
		text.Reset()
		if inRow {
			if t = space(t); t != "" {
				cells = append(cells, t)
			}
			return nil
		}
		err := emit(Block{Text: space(t), Kind: kind, Level: level})
		kind, level = Paragraph, 0
		return err
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() == io.EOF {
				return flush()
			}
			return fail("the HTML page cannot be read: %v", z.Err())
		case html.TextToken:
			if skip == 0 {
				text.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			end := tt == html.EndTagToken
			switch a {
			case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Svg, atom.Nav, atom.Iframe:
				if tt == html.SelfClosingTagToken {
					continue
				}
				if end {
					skip = max(skip-1, 0)
				} else {
					skip++
				}
				continue
			}
			if skip > 0 {
				continue
			}
			switch a {
			case atom.Br:
				text.WriteByte(' ')
			case atom.Title, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
				if err := flush(); err != nil {
					return err
				}
				if !end {
					kind, level = Subtitle, headingLevel(a)
					if level == 1 {
						kind = Title
					}
				}
			case atom.Li:
				if err := flush(); err != nil {
					return err
				}
				if !end {
					kind = List
				}
			case atom.Pre, atom.Code:
				if a == atom.Pre {
					if err := flush(); err != nil {
						return err
					}
					if !end {
						kind = Code
					}
				}
			case atom.Blockquote:
				if err := flush(); err != nil {
					return err
				}
				if !end {
					kind = Blockquote
				}
			case atom.Tr:
				if end {
					if err := flush(); err != nil {
						return err
					}
					inRow = false
					if row := strings.Join(cells, " | "); row != "" {
						if err := emit(Block{Text: row, Kind: Table}); err != nil {
							return err
						}
					}
					cells = nil
				} else {
					if err := flush(); err != nil {
						return err
					}
					inRow, cells = true, nil
				}
			case atom.Td, atom.Th:
				if err := flush(); err != nil {
					return err
				}
			case atom.P, atom.Div, atom.Section, atom.Article, atom.Header, atom.Footer, atom.Main, atom.Aside,
				atom.Ul, atom.Ol, atom.Dl, atom.Dt, atom.Dd, atom.Table, atom.Figcaption, atom.Hr, atom.Body, atom.Head, atom.Form:
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
}

func headingLevel(a atom.Atom) int {
	switch a {
	case atom.Title, atom.H1:
		return 1
	case atom.H2:
		return 2
	case atom.H3:
		return 3
	case atom.H4:
		return 4
	case atom.H5:
		return 5
	}
	return 6
}

// ---- Markdown

var (
	atxHeading  = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	listMarker  = regexp.MustCompile(`^\s*(?:[-*+]|\d+[.)])\s+`)
	mdLink      = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	mdStrong    = regexp.MustCompile("(\\*\\*|~~|`)")
	mdOpen      = regexp.MustCompile(`(^|[\s(\[])[*_]+(\S)`)
	mdClose     = regexp.MustCompile(`(\S)[*_]+([\s)\].,;:!?]|$)`)
	setextUnder = regexp.MustCompile(`^(=+|-+)\s*$`)
	tableRule   = regexp.MustCompile(`^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$`)
)

// markdownBlocks reads Markdown line by line: ATX and setext headings,
// fenced code, list items, tables (one block per row), block quotes and
// paragraphs; inline markup is removed, link texts kept.
func markdownBlocks(r io.Reader, emit func(Block) error) error {
	sc := lines(r)
	var para []string
	kind := Paragraph
	fence := ""
	var header []string
	flush := func() error {
		t := inline(strings.Join(para, " "))
		if kind == Code {
			t = strings.Join(para, "\n")
		}
		para = nil
		err := emit(Block{Text: t, Kind: kind})
		kind = Paragraph
		return err
	}
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t")
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
				if err := flush(); err != nil {
					return err
				}
				continue
			}
			para = append(para, line)
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			if err := flush(); err != nil {
				return err
			}
			fence, kind = trimmed[:3], Code
			continue
		}
		if m := atxHeading.FindStringSubmatch(trimmed); m != nil {
			if err := flush(); err != nil {
				return err
			}
			level := len(m[1])
			k := Subtitle
			if level == 1 {
				k = Title
			}
			if err := emit(Block{Text: inline(m[2]), Kind: k, Level: level}); err != nil {
				return err
			}
			continue
		}
		if setextUnder.MatchString(trimmed) && len(para) == 1 && kind == Paragraph {
			level, k := 2, Subtitle
			if trimmed[0] == '=' {
				level, k = 1, Title
			}
			t := inline(para[0])
			para = nil
			if err := emit(Block{Text: t, Kind: k, Level: level}); err != nil {
				return err
			}
			continue
		}
		switch {
		case trimmed == "":
			if err := flush(); err != nil {
				return err
			}
			header = nil
		case strings.HasPrefix(trimmed, "|"):
			if err := flush(); err != nil {
				return err
			}
			if tableRule.MatchString(trimmed) {
				continue
			}
			cells := splitRow(trimmed)
			if header == nil {
				header = cells
				continue
			}
			if err := emit(Block{Text: labelled(header, cells), Kind: Table}); err != nil {
				return err
			}
		case listMarker.MatchString(line):
			if err := flush(); err != nil {
				return err
			}
			kind = List
			para = append(para, listMarker.ReplaceAllString(line, ""))
		case strings.HasPrefix(trimmed, ">"):
			if kind != Blockquote {
				if err := flush(); err != nil {
					return err
				}
				kind = Blockquote
			}
			para = append(para, strings.TrimSpace(strings.TrimLeft(trimmed, ">")))
		default:
			if kind == Blockquote {
				if err := flush(); err != nil {
					return err
				}
			}
			para = append(para, trimmed)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return flush()
}

func splitRow(s string) []string {
	s = strings.Trim(strings.TrimSpace(s), "|")
	parts := strings.Split(s, "|")
	for i := range parts {
		parts[i] = inline(strings.TrimSpace(parts[i]))
	}
	return parts
}

// inline removes inline markup (emphasis, code spans, links' targets) but
// keeps underscores inside words (snake_case identifiers).
func inline(s string) string {
	s = mdLink.ReplaceAllString(s, "$1")
	s = mdStrong.ReplaceAllString(s, "")
	s = mdOpen.ReplaceAllString(s, "$1$2")
	return space(mdClose.ReplaceAllString(s, "$1$2"))
}

// ---- CSV

// csvBlocks reads the first record as the header and every other record
// as a table block "Header: value; Header: value".
func csvBlocks(r io.Reader, emit func(Block) error) error {
	br := bufio.NewReader(textReader(r))
	sep, err := sniffSeparator(br)
	if err != nil {
		return err
	}
	cr := csv.NewReader(br)
	cr.Comma, cr.FieldsPerRecord, cr.LazyQuotes, cr.ReuseRecord = sep, -1, true, true
	var header []string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fail("the CSV file is malformed at line %d: %v", pe.Line, pe.Err)
			}
			return fail("the CSV file cannot be read: %v", err)
		}
		if header == nil {
			header = append([]string(nil), rec...)
			for i := range header {
				header[i] = space(header[i])
			}
			continue
		}
		row := make([]string, len(rec))
		for i, v := range rec {
			row[i] = space(v)
		}
		if err := emit(Block{Text: labelled(header, row), Kind: Table}); err != nil {
			return err
		}
	}
}

// sniffSeparator picks ',', ';' or tab from the first line.
func sniffSeparator(br *bufio.Reader) (rune, error) {
	head, err := br.Peek(4096)
	var e *Error
	if errors.As(err, &e) {
		return 0, err
	}
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	best, n := ',', bytes.Count(head, []byte(","))
	for _, c := range []rune{';', '\t'} {
		if m := bytes.Count(head, []byte(string(c))); m > n {
			best, n = c, m
		}
	}
	return best, nil
}

// ---- JSON

// jsonBlocks reads a JSON document: each element of a top-level array (or
// each top-level member of an object) is one block of "path: value" lines.
func jsonBlocks(r io.Reader, emit func(Block) error) error {
	d := json.NewDecoder(r)
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fail("the JSON file is malformed at offset %d: %v", se.Offset, err)
		}
		return fail("the JSON file is malformed: %v", err)
	}
	switch v := doc.(type) {
	case []any:
		for _, e := range v {
			if err := emit(Block{Text: flatten("", e), Kind: Paragraph}); err != nil {
				return err
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := emit(Block{Text: flatten(k, v[k]), Kind: Paragraph}); err != nil {
				return err
			}
		}
	default:
		return emit(Block{Text: flatten("", v)})
	}
	return nil
}

func flatten(prefix string, v any) string {
	var b strings.Builder
	var walk func(p string, v any)
	walk = func(p string, v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(join(p, k), x[k])
			}
		case []any:
			for i, e := range x {
				walk(join(p, strconv.Itoa(i)), e)
			}
		case nil:
		default:
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			if p != "" {
				b.WriteString(p + ": ")
			}
			fmt.Fprint(&b, x)
		}
	}
	walk(prefix, v)
	return b.String()
}

func join(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

// ---- plain text

// textBlocks splits plain text into paragraphs at blank lines.
func textBlocks(r io.Reader, emit func(Block) error) error {
	sc := lines(textReader(r))
	var para []string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			if err := emit(Block{Text: strings.Join(para, " "), Kind: Paragraph}); err != nil {
				return err
			}
			para = para[:0]
			continue
		}
		para = append(para, line)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return emit(Block{Text: strings.Join(para, " "), Kind: Paragraph})
}

func lines(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(textReader(r))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	return sc
}

// textReader checks text as it streams: NUL bytes mean a binary file;
// bytes that are not UTF-8 are read as Windows-1252 (Latin-1) text.
func textReader(r io.Reader) io.Reader {
	if _, ok := r.(*checkedText); ok {
		return r
	}
	return &checkedText{r: bufio.NewReader(r)}
}

type checkedText struct {
	r       *bufio.Reader
	pending []byte
}

var errBinary = &Error{Reason: "the file is binary, not text: upload it with the right content type (or index: false)"}

func (c *checkedText) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	buf := make([]byte, min(len(p), 32<<10))
	n, err := c.r.Read(buf)
	buf = buf[:n]
	// Don't cut a UTF-8 sequence in two: read what completes it.
	for i := 1; i <= 3 && len(buf) >= i; i++ {
		if b := buf[len(buf)-i]; b >= 0xC0 {
			if need := utf8Len(b); need > i {
				more := make([]byte, need-i)
				m, _ := io.ReadFull(c.r, more)
				buf = append(buf, more[:m]...)
			}
			break
		} else if b < 0x80 {
			break
		}
	}
	if bytes.IndexByte(buf, 0) >= 0 {
		return 0, errBinary
	}
	if !utf8.Valid(buf) {
		var out []byte
		for _, b := range buf {
			out = utf8.AppendRune(out, rune(b))
		}
		buf = out
	}
	n = copy(p, buf)
	c.pending = buf[n:]
	return n, err
}

func utf8Len(b byte) int {
	switch {
	case b >= 0xF0:
		return 4
	case b >= 0xE0:
		return 3
	}
	return 2
}
