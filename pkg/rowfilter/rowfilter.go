// Package rowfilter is the filter language of table rows: the MongoDB-like
// filters of findTableRows and deleteTableRows. A filter is parsed once
// against the table's columns (an unknown column or operator is
// 400 InvalidQuery naming it), then matched against rows; its top-level
// conjuncts are exposed so the store can pick an index to read from.
//
//	{"name": "John"}                                  implicit $eq
//	{"age": {"$gte": 18, "$lt": 65}}                  several operators on one column: all hold
//	{"$or": [{"city": "Paris"}, {"vip": true}]}
//	{"name": {"$regex": "^jo", "$options": "i"}}
//	{"email": {"$exists": false}}
//	{"status": {"$in": ["open", "pending"]}, "id": {"$gt": 100}}
//	{"$not": {"status": "closed"}}                    also {"status": {"$not": {"$eq": "closed"}}}
//
// Values are JSON values (numbers are float64). Comparisons ($gt…) hold
// only between two numbers, two strings (date-time strings compare as
// instants when both parse) or two booleans; anything else does not match.
// A missing value equals null. When a row's value is an array, $eq, $ne,
// $in and $nin look at its elements as MongoDB does.
package rowfilter

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/parley-dev/parley/pkg/apperr"
)

// Operators lists the operators the language knows.
var Operators = []string{"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex", "$options", "$not", "$and", "$or", "$nor"}

// Getter returns a row's value of a field (a column or a built-in: id,
// createdAt, updatedAt) and whether the row has one.
type Getter func(field string) (any, bool)

// Filter is a parsed filter. The zero value and nil match every row.
type Filter struct {
	root node
}

type node interface {
	match(get Getter) bool
}

// Parse reads a filter. known reports whether a field may be filtered on.
func Parse(raw map[string]any, known func(field string) bool) (*Filter, error) {
	n, err := parseDoc(raw, known, "filter")
	if err != nil {
		return nil, err
	}
	return &Filter{root: n}, nil
}

// Match reports whether a row matches.
func (f *Filter) Match(get Getter) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root.match(get)
}

// Empty reports whether the filter matches every row by construction.
func (f *Filter) Empty() bool {
	if f == nil || f.root == nil {
		return true
	}
	a, ok := f.root.(and)
	return ok && len(a) == 0
}

// Cond is one top-level condition on a field: the filter matches only
// rows that satisfy it (and its other conditions).
type Cond struct {
	Field string
	// Op is $eq, $in, $gt, $gte, $lt or $lte.
	Op    string
	Value any
	// Values are $in's operands.
	Values []any
}

// Conds lists the top-level conditions an index can serve: equalities,
// $in lists and ranges on fields, from the filter's top-level $and
// (implicit or explicit).
func (f *Filter) Conds() []Cond {
	if f == nil || f.root == nil {
		return nil
	}
	var out []Cond
	var walk func(n node)
	walk = func(n node) {
		switch v := n.(type) {
		case and:
			for _, c := range v {
				walk(c)
			}
		case cmp:
			switch v.op {
			case "$eq", "$gt", "$gte", "$lt", "$lte":
				if v.value != nil {
					out = append(out, Cond{Field: v.field, Op: v.op, Value: v.value})
				}
			case "$in":
				vals := v.value.([]any)
				for _, x := range vals {
					if x == nil {
						return // null matches missing values, which no index holds
					}
				}
				out = append(out, Cond{Field: v.field, Op: "$in", Values: vals})
			}
		}
	}
	walk(f.root)
	return out
}

func invalid(format string, args ...any) error {
	return apperr.New(apperr.InvalidQuery, format, args...)
}

// parseDoc reads a filter document: fields and logical operators, ANDed.
func parseDoc(raw map[string]any, known func(string) bool, at string) (node, error) {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := and{}
	for _, k := range keys {
		v := raw[k]
		switch {
		case k == "$and" || k == "$or" || k == "$nor":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return nil, invalid("%s.%s must be a non-empty array of filters", at, k)
			}
			var subs []node
			for i, x := range list {
				m, ok := x.(map[string]any)
				if !ok {
					return nil, invalid("%s.%s[%d] must be an object", at, k, i)
				}
				n, err := parseDoc(m, known, fmt.Sprintf("%s.%s[%d]", at, k, i))
				if err != nil {
					return nil, err
				}
				subs = append(subs, n)
			}
			switch k {
			case "$and":
				out = append(out, and(subs))
			case "$or":
				out = append(out, or(subs))
			default:
				out = append(out, not{or(subs)})
			}
		case k == "$not":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, invalid("%s.$not must be an object", at)
			}
			n, err := parseDoc(m, known, at+".$not")
			if err != nil {
				return nil, err
			}
			out = append(out, not{n})
		case strings.HasPrefix(k, "$"):
			return nil, invalid("unknown operator %q in %s; known: %s", k, at, strings.Join(Operators, " "))
		default:
			if !known(k) {
				return nil, invalid("unknown column %q in %s", k, at)
			}
			n, err := parseField(k, v, known, at+"."+k)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
	}
	if len(out) == 1 {
		return out[0], nil
	}
	return out, nil
}

// parseField reads a field's condition: a value (implicit $eq) or an
// object of operators.
func parseField(field string, v any, known func(string) bool, at string) (node, error) {
	m, ok := v.(map[string]any)
	if !ok || !hasOperator(m) {
		return cmp{field: field, op: "$eq", value: v}, nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if !strings.HasPrefix(k, "$") {
			return nil, invalid("%s mixes operators and the field %q; use {\"$eq\": {...}} to match an object", at, k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := and{}
	for _, op := range keys {
		arg := m[op]
		switch op {
		case "$eq", "$ne":
			out = append(out, cmp{field: field, op: op, value: arg})
		case "$gt", "$gte", "$lt", "$lte":
			switch arg.(type) {
			case float64, string, bool:
			default:
				return nil, invalid("%s.%s must be a number, a string or a boolean", at, op)
			}
			out = append(out, cmp{field: field, op: op, value: arg})
		case "$in", "$nin":
			list, ok := arg.([]any)
			if !ok {
				return nil, invalid("%s.%s must be an array", at, op)
			}
			out = append(out, cmp{field: field, op: op, value: list})
		case "$exists":
			b, ok := arg.(bool)
			if !ok {
				return nil, invalid("%s.$exists must be true or false", at)
			}
			out = append(out, exists{field: field, want: b})
		case "$regex":
			pat, ok := arg.(string)
			if !ok {
				return nil, invalid("%s.$regex must be a string", at)
			}
			flags := ""
			if o, ok := m["$options"]; ok {
				s, ok := o.(string)
				if !ok {
					return nil, invalid("%s.$options must be a string", at)
				}
				for _, c := range s {
					switch c {
					case 'i', 'm', 's':
						flags += string(c)
					default:
						return nil, invalid("%s.$options %q: supported options are i, m and s", at, s)
					}
				}
			}
			if flags != "" {
				pat = "(?" + flags + ")" + pat
			}
			re, err := regexp.Compile(pat)
			if err != nil {
				return nil, invalid("%s.$regex is not a valid regular expression: %s", at, err)
			}
			out = append(out, regex{field: field, re: re})
		case "$options":
			if _, ok := m["$regex"]; !ok {
				return nil, invalid("%s.$options needs $regex", at)
			}
		case "$not":
			n, err := parseField(field, arg, known, at+".$not")
			if err != nil {
				return nil, err
			}
			out = append(out, not{n})
		default:
			return nil, invalid("unknown operator %q in %s; known: %s", op, at, strings.Join(Operators, " "))
		}
	}
	if len(out) == 1 {
		return out[0], nil
	}
	return out, nil
}

func hasOperator(m map[string]any) bool {
	for k := range m {
		if strings.HasPrefix(k, "$") {
			return true
		}
	}
	return false
}

type and []node

func (a and) match(get Getter) bool {
	for _, n := range a {
		if !n.match(get) {
			return false
		}
	}
	return true
}

type or []node

func (o or) match(get Getter) bool {
	for _, n := range o {
		if n.match(get) {
			return true
		}
	}
	return false
}

type not struct{ n node }

func (n not) match(get Getter) bool { return !n.n.match(get) }

type exists struct {
	field string
	want  bool
}

func (e exists) match(get Getter) bool {
	v, ok := get(e.field)
	return (ok && v != nil) == e.want
}

type regex struct {
	field string
	re    *regexp.Regexp
}

func (r regex) match(get Getter) bool {
	v, _ := get(r.field)
	if s, ok := v.(string); ok {
		return r.re.MatchString(s)
	}
	if list, ok := v.([]any); ok {
		for _, x := range list {
			if s, ok := x.(string); ok && r.re.MatchString(s) {
				return true
			}
		}
	}
	return false
}

type cmp struct {
	field string
	op    string
	value any
}

func (c cmp) match(get Getter) bool {
	v, ok := get(c.field)
	if !ok {
		v = nil
	}
	switch c.op {
	case "$eq":
		return equalOrContains(v, c.value)
	case "$ne":
		return !equalOrContains(v, c.value)
	case "$in":
		for _, x := range c.value.([]any) {
			if equalOrContains(v, x) {
				return true
			}
		}
		return false
	case "$nin":
		for _, x := range c.value.([]any) {
			if equalOrContains(v, x) {
				return false
			}
		}
		return true
	}
	n, ok := Compare(v, c.value)
	if !ok {
		return false
	}
	switch c.op {
	case "$gt":
		return n > 0
	case "$gte":
		return n >= 0
	case "$lt":
		return n < 0
	default:
		return n <= 0
	}
}

// equalOrContains: v equals want, or v is an array holding want.
func equalOrContains(v, want any) bool {
	if Equal(v, want) {
		return true
	}
	if list, ok := v.([]any); ok {
		if _, wantList := want.([]any); !wantList {
			for _, x := range list {
				if Equal(x, want) {
					return true
				}
			}
		}
	}
	return false
}

// Equal compares two JSON values; numbers by value, date-time strings as
// written.
func Equal(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if x, ok := a.(float64); ok {
		y, ok := b.(float64)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}

// Compare orders two values of the same kind: numbers, strings (two
// date-time strings as instants) or booleans (false first). ok is false
// for values of different kinds, which do not compare.
func Compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok || math.IsNaN(x) || math.IsNaN(y) {
			return 0, false
		}
		return cmpOrdered(x, y), true
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		if tx, err := time.Parse(time.RFC3339Nano, x); err == nil {
			if ty, err := time.Parse(time.RFC3339Nano, y); err == nil {
				return tx.Compare(ty), true
			}
		}
		return strings.Compare(x, y), true
	case bool:
		y, ok := b.(bool)
		if !ok {
			return 0, false
		}
		switch {
		case x == y:
			return 0, true
		case !x:
			return -1, true
		}
		return 1, true
	}
	return 0, false
}

func cmpOrdered(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// Order is the total order orderBy sorts by: missing and null first, then
// booleans, numbers, strings, objects and arrays; within a kind, Compare.
func Order(a, b any) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return cmpOrdered(float64(ra), float64(rb))
	}
	if n, ok := Compare(a, b); ok {
		return n
	}
	return 0
}

func rank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case float64:
		return 2
	case string:
		return 3
	case map[string]any:
		return 4
	}
	return 5
}
