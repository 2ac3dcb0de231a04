package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// ArchiveKey is where a conversation's archive goes in the archive bucket:
// <workspace>/<bot>/<yyyy>/<mm>/<conversationId>.jsonl.gz, the month of its
// creation. Retention writes it; a restore reads it.
func ArchiveKey(ws, bot, conv string, created time.Time) string {
	created = created.UTC()
	return fmt.Sprintf("%s/%s/%04d/%02d/%s.jsonl.gz", ws, bot, created.Year(), int(created.Month()), conv)
}

// LineReader yields export lines one at a time; io.EOF ends them.
type LineReader interface {
	ReadLine() (Line, error)
}

// NewLineReader reads JSON lines (an archive, once gunzipped).
func NewLineReader(r io.Reader) LineReader { return &jsonLines{dec: json.NewDecoder(r)} }

type jsonLines struct{ dec *json.Decoder }

func (j *jsonLines) ReadLine() (Line, error) {
	var l Line
	err := j.dec.Decode(&l)
	if err != nil && !errors.Is(err, io.EOF) {
		return l, fmt.Errorf("archive line: %w", err)
	}
	return l, err
}
