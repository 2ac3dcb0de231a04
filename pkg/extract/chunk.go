package extract

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Passage is a piece of a document sized for embedding.
type Passage struct {
	// Content is the passage's text as answered to the user.
	Content string
	// Context is the headings the passage sits under ("Billing > Refunds"):
	// embedded with the content so a passage is found by its section's
	// words too, but not part of Content.
	Context string
	// Subtype is the kind of its first block (paragraph, list, table…).
	Subtype Kind
	// Page is the page its first block is on (0: the format has none).
	Page int
	// Position is its 0-based rank in the document.
	Position int
}

// Embedding is the text to embed for the passage: its headings, then its
// content.
func (p Passage) Embedding() string {
	if p.Context == "" {
		return p.Content
	}
	return p.Context + "\n" + p.Content
}

// Chunker packs blocks into passages of about Target characters, never
// more than Max: consecutive blocks of one section are joined; a heading
// starts a new passage (and leads it); a block longer than Max is split
// between sentences, and a sentence longer than Max between words. Table
// rows pack to a smaller target, so a row is not lost among many.
type Chunker struct {
	Target, Max int
	emit        func(Passage) error

	headings []Block // the current heading path, by level
	lead     string  // a heading waiting to lead the next passage
	buf      strings.Builder
	first    Block
	n        int
	position int
}

// Default passage sizes, in characters (about 150 and 250 tokens).
const (
	DefaultTarget = 600
	DefaultMax    = 1000
	tableTarget   = 300
)

// NewChunker returns a chunker handing passages to emit.
func NewChunker(emit func(Passage) error) *Chunker {
	return &Chunker{Target: DefaultTarget, Max: DefaultMax, emit: emit}
}

// Passages is how many passages were emitted so far.
func (c *Chunker) Passages() int { return c.position }

// Add takes the next block.
func (c *Chunker) Add(b Block) error {
	if b.Heading() {
		if err := c.Flush(); err != nil {
			return err
		}
		if c.lead != "" {
			// A heading with nothing under it before the next one: keep it
			// as its own short passage rather than lose it.
			if err := c.emitPassage(c.lead, Block{Kind: Title, Page: b.Page}, c.context()); err != nil {
				return err
			}
		}
		level := max(b.Level, 1)
		for len(c.headings) > 0 && max(c.headings[len(c.headings)-1].Level, 1) >= level {
			c.headings = c.headings[:len(c.headings)-1]
		}
		c.lead = b.Text
		c.headings = append(c.headings, b)
		return nil
	}
	target := c.Target
	if b.Kind == Table {
		target = min(target, tableTarget)
	}
	text := b.Text
	if c.n > 0 && (c.n+1+utf8.RuneCountInString(text) > target || b.Kind != c.first.Kind && c.first.Kind == Table) {
		if err := c.Flush(); err != nil {
			return err
		}
	}
	if utf8.RuneCountInString(text) > c.Max {
		for _, piece := range split(text, target, c.Max) {
			if err := c.append(piece, b); err != nil {
				return err
			}
			if err := c.Flush(); err != nil {
				return err
			}
		}
		return nil
	}
	return c.append(text, b)
}

func (c *Chunker) append(text string, b Block) error {
	if c.n == 0 {
		c.first = b
		if c.lead != "" && utf8.RuneCountInString(c.lead)+1+utf8.RuneCountInString(text) <= c.Max {
			c.buf.WriteString(c.lead)
			c.buf.WriteString("\n")
			c.n = utf8.RuneCountInString(c.lead) + 1
		}
		c.lead = ""
	} else {
		sep := " "
		if b.Kind == Table || b.Kind == List || b.Kind == Code || c.first.Kind != b.Kind {
			sep = "\n"
		}
		c.buf.WriteString(sep)
		c.n++
	}
	c.buf.WriteString(text)
	c.n += utf8.RuneCountInString(text)
	return nil
}

// Flush emits the passage being packed, if any. Call it at the end.
func (c *Chunker) Flush() error {
	if c.n == 0 {
		return nil
	}
	text := c.buf.String()
	c.buf.Reset()
	c.n = 0
	return c.emitPassage(text, c.first, c.context())
}

// Close flushes, including a last heading with nothing under it.
func (c *Chunker) Close() error {
	if err := c.Flush(); err != nil {
		return err
	}
	if c.lead != "" {
		lead := c.lead
		c.lead = ""
		return c.emitPassage(lead, Block{Kind: Title}, c.context())
	}
	return nil
}

func (c *Chunker) emitPassage(text string, first Block, context string) error {
	p := Passage{Content: text, Context: context, Subtype: first.Kind, Page: first.Page, Position: c.position}
	c.position++
	return c.emit(p)
}

func (c *Chunker) context() string {
	parts := make([]string, 0, len(c.headings))
	for _, h := range c.headings {
		parts = append(parts, h.Text)
	}
	return strings.Join(parts, " > ")
}

// split cuts text between sentences into pieces of about target, at most
// max characters; a sentence longer than max is cut between words.
func split(text string, target, max int) []string {
	var out []string
	var cur strings.Builder
	n := 0
	add := func(s string) {
		l := utf8.RuneCountInString(s)
		if n > 0 && n+1+l > target {
			out = append(out, cur.String())
			cur.Reset()
			n = 0
		}
		if n > 0 {
			cur.WriteByte(' ')
			n++
		}
		cur.WriteString(s)
		n += l
	}
	for _, s := range Sentences(text) {
		if utf8.RuneCountInString(s) <= max {
			add(s)
			continue
		}
		for _, w := range words(s, max) {
			add(w)
		}
	}
	if n > 0 {
		out = append(out, cur.String())
	}
	return out
}

// words cuts an over-long sentence into runs of whole words of at most max
// characters (a word longer than max is cut).
func words(s string, max int) []string {
	var out []string
	var cur []rune
	for _, w := range strings.Fields(s) {
		r := []rune(w)
		for len(r) > max {
			if len(cur) > 0 {
				out = append(out, string(cur))
				cur = nil
			}
			out = append(out, string(r[:max]))
			r = r[max:]
		}
		if len(cur) > 0 && len(cur)+1+len(r) > max {
			out = append(out, string(cur))
			cur = nil
		}
		if len(cur) > 0 {
			cur = append(cur, ' ')
		}
		cur = append(cur, r...)
	}
	if len(cur) > 0 {
		out = append(out, string(cur))
	}
	return out
}

// Sentences splits text after '.', '!', '?' (and their closing quotes or
// brackets) followed by a space and an upper-case letter, a digit or an
// opening quote; abbreviations such as "e.g. the" or "Mr. Smith" mostly
// survive because a lower-case word follows or the dot ends a short token.
func Sentences(text string) []string {
	var out []string
	r := []rune(text)
	start := 0
	for i := 0; i < len(r); i++ {
		if r[i] != '.' && r[i] != '!' && r[i] != '?' {
			continue
		}
		j := i + 1
		for j < len(r) && strings.ContainsRune(`"')]»”’`, r[j]) {
			j++
		}
		if j >= len(r) || !unicode.IsSpace(r[j]) {
			continue
		}
		k := j
		for k < len(r) && unicode.IsSpace(r[k]) {
			k++
		}
		if k < len(r) && !(unicode.IsUpper(r[k]) || unicode.IsDigit(r[k]) || strings.ContainsRune(`"'(«“‘`, r[k])) {
			continue
		}
		if r[i] == '.' && abbreviation(r[start:i]) {
			continue
		}
		if s := strings.TrimSpace(string(r[start:j])); s != "" {
			out = append(out, s)
		}
		start = k
		i = k - 1
	}
	if s := strings.TrimSpace(string(r[start:])); s != "" {
		out = append(out, s)
	}
	return out
}

// abbreviation reports whether the word before a dot is a short
// abbreviation (Mr, Dr, St, No, a single letter).
func abbreviation(before []rune) bool {
	i := len(before)
	for i > 0 && !unicode.IsSpace(before[i-1]) {
		i--
	}
	w := strings.ToLower(string(before[i:]))
	switch w {
	case "mr", "mrs", "ms", "dr", "st", "no", "vs", "etc", "inc", "ltd", "jr", "sr", "fig", "approx":
		return true
	}
	return utf8.RuneCountInString(w) == 1 && unicode.IsLetter([]rune(w)[0])
}
