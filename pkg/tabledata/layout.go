// Package tabledata owns the tables table's layout: it is the only package
// that builds or parses its keys. It stores a bot's tables (their
// definitions and counters), their rows, the entries of their indexed
// columns and key column, the per-workspace row counter the row quota is
// checked on, and registers the catalogue kinds "tableRow" and "table"
// (kinds.go). The tables API (pkg/tables) reaches it through interfaces it
// declares.
//
// Every key starts with its owner. A table's rows and index entries live in
// one partition per generation of the table, so deleting a table, or all
// its rows, is one conditional write that moves the table to a new
// generation (or removes it) and leaves the old partition to the lifecycle
// worker, recorded by a "gone" marker and an erase intent.
//
//	table          BOT#<bot>                     TABLE#<name>         the definition, columns, counters (gen, nextRowId, rows)
//	table id       BOT#<bot>                     TABLEID#<tableId>    → name
//	table count    BOT#<bot>                     TABLECOUNT           tables (the per-bot quota's condition)
//	gone           BOT#<bot>                     TGONE#<tableId>.<gen> a partition left to erase
//	row            BOT#<bot>#TG#<tableId>.<gen>  R#<id, 10 digits>    gsi1: BOT#<bot>#TROWS / <createdAt>#<tableId>.<gen>#<id>
//	                                                                  gsi2: BOT#<bot>#TROWS / <updatedAt>#<tableId>.<gen>#<id>
//	key claim      BOT#<bot>#TG#<tableId>.<gen>  K#<value>            → rowId (keyColumn: unique)
//	index entry    BOT#<bot>#TG#<tableId>.<gen>  I#<column>#<value>#<id> → rowId (x-parley index)
//	row counter    TWS#<workspace>               ROWS                 rows × factor of the workspace's tables
//
// Values in keys are encoded so that their order is the rows' order:
// "0" null or missing, "1f"/"1t" booleans, "2"+16 hex digits numbers,
// "3"+text strings (cut at 256 bytes: index reads are candidates, every
// row read is checked against the whole filter), "4" objects and arrays.
// Row values are stored under stable column ids (c1, c2 …), so renaming a
// column rewrites no row.
package tabledata

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

const (
	gsi2   = "gsi2"
	gsi2PK = "gsi2pk"
	gsi2SK = "gsi2sk"
)

func botPK(bot string) string { return "BOT#" + bot }

func tableKey(bot, name string) map[string]types.AttributeValue {
	return ds.Key(botPK(bot), "TABLE#"+name)
}

func tableIDKey(bot, id string) map[string]types.AttributeValue {
	return ds.Key(botPK(bot), "TABLEID#"+id)
}

func tableCountKey(bot string) map[string]types.AttributeValue {
	return ds.Key(botPK(bot), "TABLECOUNT")
}

func goneKey(bot, part string) map[string]types.AttributeValue {
	return ds.Key(botPK(bot), "TGONE#"+part)
}

func rowCounterKey(ws string) map[string]types.AttributeValue {
	return ds.Key("TWS#"+ws, "ROWS")
}

// partName names a generation of a table: "<tableId>.<gen>".
func partName(tableID string, gen int64) string { return tableID + "." + strconv.FormatInt(gen, 10) }

func partPK(bot, part string) string { return botPK(bot) + "#TG#" + part }

func rowsIndexPK(bot string) string { return botPK(bot) + "#TROWS" }

const (
	rowPrefix   = "R#"
	keyPrefix   = "K#"
	indexPrefix = "I#"
)

func rowSK(id int64) string { return fmt.Sprintf("%s%010d", rowPrefix, id) }

func rowKey(bot, part string, id int64) map[string]types.AttributeValue {
	return ds.Key(partPK(bot, part), rowSK(id))
}

func claimSK(v any) string {
	enc := Encode(v)
	if len(enc) > 512 {
		sum := sha256.Sum256([]byte(enc))
		enc = "h" + hex.EncodeToString(sum[:])
	}
	return keyPrefix + enc
}

func indexColPrefix(col string) string { return indexPrefix + col + "#" }

func indexSK(col string, v any, id int64) string {
	return fmt.Sprintf("%s%s#%010d", indexColPrefix(col), cut(Encode(v)), id)
}

// maxKeyValue bounds the bytes of a value in an index entry's key.
const maxKeyValue = 256

func cut(s string) string {
	if len(s) <= maxKeyValue {
		return s
	}
	s = s[:maxKeyValue]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Encode is a value's order-preserving form in keys.
func Encode(v any) string {
	switch x := v.(type) {
	case nil:
		return "0"
	case bool:
		if x {
			return "1t"
		}
		return "1f"
	case float64:
		return "2" + encodeNumber(x)
	case int:
		return "2" + encodeNumber(float64(x))
	case int64:
		return "2" + encodeNumber(float64(x))
	case string:
		return "3" + x
	}
	b, _ := json.Marshal(v)
	return "4" + string(b)
}

// encodeNumber maps a float64 to 16 hex digits whose string order is the
// numbers' order (sign bit flipped for positives, all bits for negatives).
func encodeNumber(f float64) string {
	if f == 0 {
		f = 0 // -0 sorts as 0
	}
	bits := math.Float64bits(f)
	if bits&(1<<63) != 0 {
		bits = ^bits
	} else {
		bits |= 1 << 63
	}
	return fmt.Sprintf("%016x", bits)
}

// kindBound is the upper end of the encoded values of v's kind.
func kindBound(v any) string {
	e := Encode(v)
	return e[:1] + "\uffff"
}
