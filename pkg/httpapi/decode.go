package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parley-dev/parley/pkg/apperr"
)

// MaxBodyBytes bounds request bodies; API Gateway's own limit is 10 MB.
const MaxBodyBytes = 1 << 20

// MaxDepth bounds the nesting of request bodies: DynamoDB stores documents
// at most 32 levels deep, and a body is stored one or two levels down.
const MaxDepth = 30

// jsonDepth is the deepest nesting of objects and arrays in a JSON text.
func jsonDepth(b []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// Decode reads the JSON body strictly into dst: malformed JSON, wrong types,
// unknown fields and trailing data are 400 InvalidPayload, and a body over
// MaxBodyBytes is 413 PayloadTooLarge. An empty body decodes as {}.
func Decode(r *http.Request, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return apperr.New(apperr.PayloadTooLarge, "request body exceeds %d bytes", MaxBodyBytes)
		}
		return apperr.Invalid("cannot read request body")
	}
	if ct := r.Header.Get("Content-Type"); len(body) > 0 && ct != "" && !strings.Contains(ct, "json") {
		return apperr.New(apperr.UnsupportedMediaType, "content type %q is not supported; send application/json", ct)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	// encoding/json would store invalid UTF-8 as U+FFFD: refuse it instead.
	if !utf8.Valid(body) {
		return apperr.Invalid("request body is not valid UTF-8")
	}
	if d := jsonDepth(body); d > MaxDepth {
		return apperr.Invalid("request body is nested %d levels deep; at most %d", d, MaxDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return apperr.Invalid("request body must be a single JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return apperr.Invalid("request body must be a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return apperr.Invalid("malformed JSON at offset %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typ):
		if typ.Field == "" {
			return apperr.Invalid("request body must be %s, not %s", goKind(typ.Type.Kind().String()), typ.Value)
		}
		return apperr.Invalid("field %q must be %s, not %s", typ.Field, goKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Invalid("malformed JSON: unexpected end of body")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return apperr.Invalid("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return apperr.Invalid("invalid JSON body: %s", err.Error())
}

func goKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int64", "int32", "float64", "float32", "uint", "uint64":
		return "a number"
	}
	return "a " + k
}

// Query reads query parameters as the official Botpress client encodes them:
// objects as dotted keys (tags.foo=bar), arrays as repeated keys.
type Query struct{ r *http.Request }

// QueryOf returns the request's query reader.
func QueryOf(r *http.Request) Query { return Query{r: r} }

// String returns a single parameter ("" when absent).
func (q Query) String(name string) string { return q.r.URL.Query().Get(name) }

// Strings returns every value of a repeated parameter. It also accepts the
// bracketed form (name[]=a&name[]=b) some encoders use.
func (q Query) Strings(name string) []string {
	v := q.r.URL.Query()
	return append(v[name], v[name+"[]"]...)
}

// Map returns an object parameter: tags.foo=bar&tags.baz=qux gives
// {foo: bar, baz: qux}; tags[foo]=bar is read too.
func (q Query) Map(name string) map[string]string {
	out := map[string]string{}
	for k, vs := range q.r.URL.Query() {
		var key string
		switch {
		case strings.HasPrefix(k, name+"."):
			key = strings.TrimPrefix(k, name+".")
		case strings.HasPrefix(k, name+"[") && strings.HasSuffix(k, "]"):
			key = k[len(name)+1 : len(k)-1]
		default:
			continue
		}
		if key != "" && len(vs) > 0 {
			out[key] = vs[len(vs)-1]
		}
	}
	return out
}

// Bool returns a boolean parameter, or nil when absent.
func (q Query) Bool(name string) (*bool, error) {
	s := q.String(name)
	if s == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, apperr.New(apperr.InvalidQuery, "query parameter %q must be true or false", name)
	}
	return &b, nil
}

// Int returns an integer parameter within [min, max], or def when absent.
func (q Query) Int(name string, def, min, max int) (int, error) {
	s := q.String(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, apperr.New(apperr.InvalidQuery, "query parameter %q must be an integer from %d to %d", name, min, max)
	}
	return n, nil
}

// Enum returns a parameter that must be one of allowed, or def when absent.
func (q Query) Enum(name, def string, allowed ...string) (string, error) {
	s := q.String(name)
	if s == "" {
		return def, nil
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", apperr.New(apperr.InvalidQuery, "query parameter %q must be one of %s", name, strings.Join(allowed, ", "))
}
