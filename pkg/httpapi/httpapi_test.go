package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/apperr"
)

type body struct {
	Name string            `json:"name"`
	Tags map[string]string `json:"tags"`
	N    int               `json:"n"`
}

func TestDecode(t *testing.T) {
	cases := []struct {
		in      string
		errType apperr.Type
		msg     string
	}{
		{`{"name":"a","tags":{"k":"v"},"n":1}`, "", ""},
		{``, "", ""},
		{`{"name":`, apperr.InvalidPayload, "malformed JSON"},
		{`{"name":1}`, apperr.InvalidPayload, `field "name" must be a string`},
		{`{"tags":[]}`, apperr.InvalidPayload, `field "tags" must be an object`},
		{`{"other":1}`, apperr.InvalidPayload, `unknown field "other"`},
		{`{"name":"a"} {"name":"b"}`, apperr.InvalidPayload, "single JSON object"},
		{`[]`, apperr.InvalidPayload, "request body must be an object"},
		{`{"name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, apperr.PayloadTooLarge, "exceeds"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("POST", "/", strings.NewReader(c.in))
		r.Header.Set("Content-Type", "application/json")
		var b body
		err := Decode(r, &b)
		if c.errType == "" {
			if err != nil {
				t.Errorf("%.40q: %v", c.in, err)
			}
			continue
		}
		e := apperr.As(err)
		if e == nil || e.Type != c.errType || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%.40q: got %v, want %s containing %q", c.in, err, c.errType, c.msg)
		}
	}
	r := httptest.NewRequest("POST", "/", strings.NewReader(`name=a`))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if !apperr.Is(Decode(r, &body{}), apperr.UnsupportedMediaType) {
		t.Error("a form body was accepted")
	}
}

func TestQuery(t *testing.T) {
	r := httptest.NewRequest("GET", "/?tags.a=1&tags.two%20words=x%20y&tags[b]=2&ids=u1&ids=u2&flag=true&n=5&bad=maybe", nil)
	q := QueryOf(r)
	tags := q.Map("tags")
	if tags["a"] != "1" || tags["two words"] != "x y" || tags["b"] != "2" || len(tags) != 3 {
		t.Errorf("tags %v", tags)
	}
	if ids := q.Strings("ids"); len(ids) != 2 || ids[1] != "u2" {
		t.Errorf("ids %v", ids)
	}
	if b, err := q.Bool("flag"); err != nil || !*b {
		t.Errorf("flag %v %v", b, err)
	}
	if b, err := q.Bool("absent"); err != nil || b != nil {
		t.Errorf("absent %v %v", b, err)
	}
	if _, err := q.Bool("bad"); !apperr.Is(err, apperr.InvalidQuery) {
		t.Errorf("bad bool: %v", err)
	}
	if n, err := q.Int("n", 20, 1, 100); err != nil || n != 5 {
		t.Errorf("n %d %v", n, err)
	}
	if _, err := q.Int("n", 20, 10, 100); !apperr.Is(err, apperr.InvalidQuery) {
		t.Errorf("out of range: %v", err)
	}
	if v, err := q.Enum("sort", "desc", "asc", "desc"); err != nil || v != "desc" {
		t.Errorf("enum default %q %v", v, err)
	}
}

func serve(rt *Router, method, path string) (*httptest.ResponseRecorder, ErrorBody) {
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	var e ErrorBody
	_ = json.Unmarshal(w.Body.Bytes(), &e)
	return w, e
}

func TestRouter(t *testing.T) {
	var logged strings.Builder
	rt := NewRouter(slog.New(slog.NewJSONHandler(&logged, nil)))
	rt.Handle("GET", "/v1/things/{id}", func(r *http.Request) (Response, error) {
		switch r.PathValue("id") {
		case "missing":
			return Response{}, apperr.NotFound("thing", "missing")
		case "broken":
			return Response{}, errors.New("dynamodb: secret internal detail")
		case "panic":
			panic("boom")
		}
		return OK(map[string]string{"id": r.PathValue("id")}), nil
	})
	rt.Handle("POST", "/v1/things", func(r *http.Request) (Response, error) { return Created(map[string]any{}), nil })

	if w, _ := serve(rt, "GET", "/v1/things/t1"); w.Code != 200 || !strings.Contains(w.Body.String(), `"id":"t1"`) || w.Header().Get("X-Request-Id") == "" {
		t.Errorf("get: %d %s", w.Code, w.Body)
	}
	if w, _ := serve(rt, "POST", "/v1/things"); w.Code != 201 {
		t.Errorf("create: %d", w.Code)
	}
	checks := []struct {
		method, path string
		status       int
		typ          string
	}{
		{"GET", "/v1/things/missing", 404, "ResourceNotFound"},
		{"GET", "/v1/nothing", 404, "ResourceNotFound"},
		{"DELETE", "/v1/things/t1", 405, "MethodNotFound"},
		{"GET", "/v1/things/broken", 500, "Internal"},
		{"GET", "/v1/things/panic", 500, "Internal"},
	}
	for _, c := range checks {
		w, e := serve(rt, c.method, c.path)
		if w.Code != c.status || e.Type != c.typ || e.Code != c.status || !strings.HasPrefix(e.ID, "err_") || e.Message == "" {
			t.Errorf("%s %s: %d %s", c.method, c.path, w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "secret internal detail") {
			t.Errorf("internal detail reached the client: %s", w.Body)
		}
	}
	if !strings.Contains(logged.String(), "secret internal detail") || !strings.Contains(logged.String(), `"route":"GET /v1/things/{id}"`) {
		t.Errorf("the log lacks the internal error or the route: %s", logged.String())
	}
}

func TestListEnvelope(t *testing.T) {
	b, _ := json.Marshal(List[int]("things", nil, ""))
	if string(b) != `{"meta":{},"things":[]}` {
		t.Errorf("empty last page: %s", b)
	}
	b, _ = json.Marshal(List("things", []int{1}, "tok"))
	if string(b) != `{"meta":{"nextToken":"tok"},"things":[1]}` {
		t.Errorf("page: %s", b)
	}
}
