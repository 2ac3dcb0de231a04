package tables

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Limits of a table's definition (Botpress's).
const (
	MaxColumns   = 20
	MaxFactor    = 30
	RowBytes     = 4096
	maxNameLen   = 35
	maxColumnLen = 30
)

var (
	tableNameRE  = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_]*Table$`)
	columnNameRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_]*$`)
	// builtIn are the row fields every table has.
	builtIn = map[string]bool{"id": true, "createdAt": true, "updatedAt": true, "computed": true, "stale": true, "similarity": true}
	// columnKeys are the keywords a column answers with (the API
	// definition's); others are kept for validation but not answered.
	columnKeys  = []string{"type", "format", "description", "pattern", "enum", "items", "nullable", "properties", "x-zui"}
	zuiKeys     = map[string]bool{"index": true, "id": true, "searchable": true, "hidden": true, "order": true, "width": true, "schemaId": true, "typings": true}
	columnTypes = map[string]bool{"string": true, "number": true, "boolean": true, "object": true, "array": true, "null": true}
)

func checkTableName(name string) error {
	if len(name) > maxNameLen || !tableNameRE.MatchString(name) {
		return apperr.Invalid("table name %q is invalid: it must start with a letter, _ or $, hold only letters, digits and underscores, be at most %d characters and end with \"Table\"", name, maxNameLen)
	}
	return nil
}

func checkColumnName(name string) error {
	if len(name) == 0 || len(name) > maxColumnLen || !columnNameRE.MatchString(name) {
		return apperr.Invalid("column name %q is invalid: it must start with a letter, _ or $, hold only letters, digits and underscores and be at most %d characters", name, maxColumnLen)
	}
	if builtIn[name] {
		return apperr.Invalid("column name %q is reserved (built-in: id, createdAt, updatedAt, computed, stale, similarity)", name)
	}
	return nil
}

// parsedColumn is a column as a schema defines it, before ids are given.
type parsedColumn struct {
	Name       string
	Def        map[string]any
	Required   bool
	Indexed    bool
	Searchable bool
	order      float64
}

// parseSchema reads a table schema: a JSON Schema object
// ({"type":"object","properties":{…},"required":[…]}) or, as Botpress
// also accepts, the properties object itself. It answers the columns in
// their x-zui.index order and the schema's other top-level keywords.
func parseSchema(raw map[string]any) ([]parsedColumn, map[string]any, error) {
	if raw == nil {
		return nil, nil, apperr.Invalid("schema is required: a JSON Schema object with properties")
	}
	props, isSchema := raw["properties"].(map[string]any)
	extra := map[string]any{}
	required := map[string]bool{}
	if isSchema {
		for k, v := range raw {
			switch k {
			case "properties", "additionalProperties":
			case "type":
				if v != "object" {
					return nil, nil, apperr.New(apperr.InvalidJSONSchema, "schema.type must be \"object\"")
				}
			case "required":
				list, ok := v.([]any)
				if !ok {
					return nil, nil, apperr.New(apperr.InvalidJSONSchema, "schema.required must be an array of column names")
				}
				for _, x := range list {
					s, ok := x.(string)
					if !ok {
						return nil, nil, apperr.New(apperr.InvalidJSONSchema, "schema.required must be an array of column names")
					}
					required[s] = true
				}
			case "$schema":
				extra[k] = v
			case "x-zui", "description", "title":
				// accepted, not answered (the API definition's schema has none)
			default:
				return nil, nil, apperr.New(apperr.InvalidJSONSchema, "schema.%s is not supported in a table schema", k)
			}
		}
	} else if _, has := raw["type"]; has {
		return nil, nil, apperr.New(apperr.InvalidJSONSchema, "schema must have properties (one per column)")
	} else {
		props = raw
	}
	if len(props) > MaxColumns {
		return nil, nil, apperr.Invalid("schema has %d columns; a table has at most %d", len(props), MaxColumns)
	}
	for r := range required {
		if _, ok := props[r]; !ok {
			return nil, nil, apperr.New(apperr.InvalidJSONSchema, "schema.required names %q, which is not a column", r)
		}
	}
	var cols []parsedColumn
	for name, v := range props {
		if err := checkColumnName(name); err != nil {
			return nil, nil, err
		}
		def, ok := v.(map[string]any)
		if !ok {
			return nil, nil, apperr.New(apperr.InvalidJSONSchema, "schema.properties.%s must be an object (the column's JSON Schema)", name)
		}
		c, err := parseColumn(name, def)
		if err != nil {
			return nil, nil, err
		}
		c.Required = required[name]
		cols = append(cols, c)
	}
	sort.SliceStable(cols, func(i, j int) bool {
		if cols[i].order != cols[j].order {
			return cols[i].order < cols[j].order
		}
		return cols[i].Name < cols[j].Name
	})
	return cols, extra, nil
}

func parseColumn(name string, def map[string]any) (parsedColumn, error) {
	at := "schema.properties." + name
	c := parsedColumn{Name: name, Def: map[string]any{}, order: 1e9}
	for k, v := range def {
		c.Def[k] = v
	}
	typ, _ := def["type"].(string)
	if !columnTypes[typ] {
		return c, apperr.New(apperr.InvalidJSONSchema, "%s.type must be one of string, number, boolean, object, array or null", at)
	}
	if f, ok := def["format"]; ok && (f != "date-time" || typ != "string") {
		return c, apperr.New(apperr.InvalidJSONSchema, "%s.format: only \"date-time\" strings are supported", at)
	}
	if z, ok := def["x-zui"]; ok {
		zui, ok := z.(map[string]any)
		if !ok {
			return c, apperr.New(apperr.InvalidJSONSchema, "%s.x-zui must be an object", at)
		}
		if _, ok := zui["computed"]; ok {
			return c, apperr.Invalid("%s is a computed column: Parley cannot run computed columns yet (isComputeEnabled is false); store its values as a plain column", at)
		}
		if i, ok := zui["index"].(float64); ok {
			c.order = i
		}
		c.Searchable, _ = zui["searchable"].(bool)
	}
	if x, ok := def["x-parley"]; ok {
		xp, ok := x.(map[string]any)
		if !ok {
			return c, apperr.New(apperr.InvalidJSONSchema, "%s.x-parley must be an object such as {\"index\": true}", at)
		}
		for k, v := range xp {
			b, isBool := v.(bool)
			if k != "index" || !isBool {
				return c, apperr.New(apperr.InvalidJSONSchema, "%s.x-parley.%s: the only Parley column option is {\"index\": true}", at, k)
			}
			c.Indexed = b
		}
	}
	// The column's schema must compile (as its values will be validated).
	if _, err := compile(map[string]any{"type": "object", "properties": map[string]any{name: validationDef(c.Def)}}); err != nil {
		return c, apperr.New(apperr.InvalidJSONSchema, "%s is not a valid JSON Schema: %s", at, firstLine(err.Error()))
	}
	return c, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// validationDef is a column's definition as rows are validated against it:
// the annotations removed, null allowed unless nullable is false.
func validationDef(def map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range def {
		switch k {
		case "x-zui", "x-parley", "nullable":
			continue
		}
		out[k] = v
	}
	return out
}

func compile(doc map[string]any) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.DefaultDraft(jsonschema.Draft7)
	if err := c.AddResource("mem://row.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("mem://row.json")
}

// answerSchema is the schema as the API answers it: columns with the API
// definition's keywords and x-zui.index their position; Parley's own
// x-parley and other validation keywords are kept, not answered.
func answerSchema(t Table) map[string]any {
	props := map[string]any{}
	var required []string
	for i, c := range t.Columns {
		var def map[string]any
		_ = json.Unmarshal(c.Def, &def)
		out := map[string]any{}
		for _, k := range columnKeys {
			if v, ok := def[k]; ok {
				out[k] = v
			}
		}
		zui := map[string]any{}
		if z, ok := def["x-zui"].(map[string]any); ok {
			for k, v := range z {
				if zuiKeys[k] {
					zui[k] = v
				}
			}
		}
		zui["index"] = i
		out["x-zui"] = zui
		props[c.Name] = out
		if c.Required {
			required = append(required, c.Name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": true}
	if len(required) > 0 {
		s["required"] = required
	}
	var extra map[string]any
	_ = json.Unmarshal(t.Extra, &extra)
	for k, v := range extra {
		s[k] = v
	}
	return s
}

// validator checks rows (values by column name) against a table's columns.
type validator struct {
	t      Table
	schema *jsonschema.Schema
}

func newValidator(t Table) (*validator, error) {
	props := map[string]any{}
	var required []any
	for _, c := range t.Columns {
		var def map[string]any
		if err := json.Unmarshal(c.Def, &def); err != nil {
			return nil, err
		}
		props[c.Name] = validationDef(def)
		if c.Required {
			required = append(required, c.Name)
		}
	}
	doc := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		doc["required"] = required
	}
	s, err := compile(doc)
	if err != nil {
		return nil, err
	}
	return &validator{t: t, schema: s}, nil
}

// check validates one row's values by name (nulls are unset values: a
// nullable column accepts them, a required or non-nullable one does not)
// and its size, and answers its values by column id, with the names it
// ignored (no such column).
func (v *validator) check(i int, values map[string]any) (map[string]any, []string, error) {
	byID := map[string]any{}
	present := map[string]any{}
	var ignored []string
	for name, val := range values {
		if name == "id" {
			continue
		}
		c, ok := v.t.Named(name)
		if !ok {
			ignored = append(ignored, name)
			continue
		}
		if val == nil {
			var def map[string]any
			_ = json.Unmarshal(c.Def, &def)
			if nb, ok := def["nullable"].(bool); ok && !nb || c.Required {
				return nil, nil, fmt.Errorf("rows[%d].%s: the column is not nullable", i, name)
			}
			continue
		}
		present[name] = val
		byID[c.ID] = val
	}
	if err := v.schema.Validate(present); err != nil {
		return nil, nil, fmt.Errorf("rows[%d]%s", i, describe(err))
	}
	size, _ := json.Marshal(present)
	if limit := RowBytes * max(v.t.Factor, 1); len(size) > limit {
		return nil, nil, fmt.Errorf("rows[%d]: the row is %d bytes; this table's rows hold at most %d (4 KB × factor %d)", i, len(size), limit, max(v.t.Factor, 1))
	}
	sort.Strings(ignored)
	return byID, ignored, nil
}

// describe turns a validation error into ".column: why".
func describe(err error) string {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return ": " + err.Error()
	}
	out := ve.BasicOutput()
	var parts []string
	for _, e := range out.Errors {
		if e.Error == nil {
			continue
		}
		loc := strings.TrimPrefix(e.InstanceLocation, "/")
		msg := e.Error.String()
		if loc == "" {
			parts = append(parts, ": "+msg)
		} else {
			parts = append(parts, "."+strings.ReplaceAll(loc, "/", ".")+": "+msg)
		}
	}
	if len(parts) == 0 {
		return ": " + firstLine(err.Error())
	}
	return strings.Join(parts, "; ")
}

// columnsOf gives parsed columns ids: a column keeps the id of the
// existing column of the same name (so its values stay); new ones get
// the next ids.
func columnsOf(parsed []parsedColumn, old []Column, next int) ([]Column, int, error) {
	var out []Column
	for _, p := range parsed {
		def, err := json.Marshal(p.Def)
		if err != nil {
			return nil, next, err
		}
		c := Column{Name: p.Name, Def: def, Required: p.Required, Indexed: p.Indexed, Searchable: p.Searchable}
		for _, o := range old {
			if o.Name == p.Name {
				c.ID = o.ID
			}
		}
		if c.ID == "" {
			next++
			c.ID = "c" + strconv.Itoa(next)
		}
		out = append(out, c)
	}
	return out, next, nil
}
