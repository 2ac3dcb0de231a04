package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The hash chain. Each workspace's records form one chain: record n
// (seq n, from 1) carries the hash of record n-1 (prevHash; Genesis for
// the first) and its own hash, the hex SHA-256 of its canonical form. The
// chain's head (last seq and hash) is stored beside the records and moved
// conditionally in the transaction that appends, so concurrent writers
// never fork the chain or leave a gap.

// Genesis is the prevHash of a chain's first record: 64 zeros.
var Genesis = strings.Repeat("0", 64)

// canonicalFields are the members of the canonical form, in the order they
// are written (sorted by name, as RFC 8785 sorts them).
var canonicalFields = []string{"accountId", "action", "id", "prevHash", "recordedAt", "resourceId", "resourceName", "seq", "value", "workspaceId"}

// Canonical is the byte string a record's hash covers: the RFC 8785 (JSON
// Canonicalization Scheme) serialization of the object whose members are
// accountId, action, id, prevHash, recordedAt, resourceId, resourceName,
// seq, value and workspaceId, every one present (an absent string is ""),
// seq a JSON integer: members sorted by name, no whitespace, strings in
// UTF-8 with only `"`, `\` and control characters escaped (\b \t \n \f \r,
// others as \u00xx in lower-case hex). Python's
// json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
// writes the same bytes.
func (r Record) Canonical() []byte {
	vals := map[string]string{
		"accountId": r.AccountID, "action": r.Action, "id": r.ID, "prevHash": r.PrevHash, "recordedAt": r.RecordedAt,
		"resourceId": r.ResourceID, "resourceName": r.ResourceName, "value": r.Value, "workspaceId": r.WorkspaceID,
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range canonicalFields {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, f)
		b.WriteByte(':')
		if f == "seq" {
			b.WriteString(strconv.FormatInt(r.Seq, 10))
			continue
		}
		writeJSONString(&b, vals[f])
	}
	b.WriteByte('}')
	return []byte(b.String())
}

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\b':
				b.WriteString(`\b`)
			case '\t':
				b.WriteString(`\t`)
			case '\n':
				b.WriteString(`\n`)
			case '\f':
				b.WriteString(`\f`)
			case '\r':
				b.WriteString(`\r`)
			default:
				if c < 0x20 {
					b.WriteString(`\u00`)
					b.WriteString(hex.EncodeToString([]byte{c}))
				} else {
					b.WriteByte(c)
				}
			}
			i++
			continue
		}
		// Invalid UTF-8 cannot reach here from DynamoDB (strings are UTF-8);
		// copy runes as they are.
		_, size := utf8.DecodeRuneInString(s[i:])
		b.WriteString(s[i : i+size])
		i += size
	}
	b.WriteByte('"')
}

// ComputeHash is the hex SHA-256 of the record's canonical form.
func (r Record) ComputeHash() string {
	sum := sha256.Sum256(r.Canonical())
	return hex.EncodeToString(sum[:])
}

// Head is the end of a workspace's chain: the last record's seq and hash
// (0 and Genesis for an empty chain).
type Head struct {
	Seq  int64
	Hash string
}

// Link places recs after head, in order: each gets the next seq, the hash
// of the one before and its own hash. It answers the new head.
func Link(head Head, recs []Record) ([]Record, Head) {
	if head.Hash == "" {
		head.Hash = Genesis
	}
	out := make([]Record, len(recs))
	for i, r := range recs {
		r.Seq, r.PrevHash, r.Hash = head.Seq+1, head.Hash, ""
		r.Hash = r.ComputeHash()
		out[i] = r
		head = Head{Seq: r.Seq, Hash: r.Hash}
	}
	return out, head
}

// Verification is the outcome of verifying a chain.
type Verification struct {
	Valid   bool  `json:"valid"`
	Records int64 `json:"records"`
	// FirstInvalidSeq is the first position where the chain stops
	// verifying (null when valid).
	FirstInvalidSeq *int64 `json:"firstInvalidSeq"`
	// Reason says what failed there (absent when valid).
	Reason string `json:"reason,omitempty"`
}

// Verifier checks a chain fed to it in seq order, a record at a time.
type Verifier struct {
	prev    Head
	records int64
	bad     *int64
	reason  string
}

// Add checks the next record: its seq follows the previous one's (else a
// record is missing or out of place), its prevHash is the previous
// record's hash, and its hash is the hash of its canonical form (else its
// content was altered). The first failure is kept.
func (v *Verifier) Add(r Record) {
	v.records++
	if v.bad != nil {
		return
	}
	if v.prev.Hash == "" {
		v.prev.Hash = Genesis
	}
	want := v.prev.Seq + 1
	switch {
	case r.Seq != want:
		v.fail(want, "record "+strconv.FormatInt(want, 10)+" is missing or out of order (found seq "+strconv.FormatInt(r.Seq, 10)+")")
	case r.PrevHash != v.prev.Hash:
		v.fail(want, "prevHash does not match the previous record's hash")
	case r.ComputeHash() != r.Hash:
		v.fail(want, "the record's content does not match its hash")
	}
	v.prev = Head{Seq: r.Seq, Hash: r.Hash}
}

// End checks the chain's end against its stored head and answers the
// outcome: a head beyond the last record means records were removed from
// the end.
func (v *Verifier) End(head Head) Verification {
	switch {
	case v.bad != nil:
	case head.Seq != v.prev.Seq:
		v.fail(min(head.Seq, v.prev.Seq)+1, "the chain's head (seq "+strconv.FormatInt(head.Seq, 10)+") does not match its last record (seq "+strconv.FormatInt(v.prev.Seq, 10)+")")
	case head.Seq > 0 && head.Hash != v.prev.Hash:
		v.fail(head.Seq, "the chain's head does not hold the last record's hash")
	}
	return Verification{Valid: v.bad == nil, Records: v.records, FirstInvalidSeq: v.bad, Reason: v.reason}
}

func (v *Verifier) fail(seq int64, reason string) {
	v.bad, v.reason = &seq, reason
}
