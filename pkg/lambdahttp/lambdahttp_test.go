package lambdahttp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/parley-dev/parley/pkg/httpapi"
)

// The sample events in events/ must decode into the SDK's types and encode
// back to the same JSON, so they stay real payloads.
func TestSampleEventsRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../../events/*.json")
	if len(files) < 4 {
		t.Fatalf("want the sample events, found %v", files)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		switch base := filepath.Base(f); {
		case strings.HasPrefix(base, "apigw-v2"):
			v = &events.APIGatewayV2HTTPRequest{}
		case strings.HasPrefix(base, "sqs"):
			v = &events.SQSEvent{}
		case strings.HasPrefix(base, "scheduled"):
			v = &events.EventBridgeEvent{}
		default:
			t.Fatalf("%s: unknown kind of event", base)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		again, _ := json.Marshal(v)
		var a, b map[string]any
		_ = json.Unmarshal(raw, &a)
		_ = json.Unmarshal(again, &b)
		if path := lost(a, b, ""); path != "" {
			t.Errorf("%s: %s does not survive a round trip through %T", filepath.Base(f), path, v)
		}
	}
}

// lost returns the path of the first value of want that got lacks (the
// SDK's types may add zero-valued fields, but must keep every given one).
func lost(want, got any, path string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path
		}
		for k, v := range w {
			if p := lost(v, g[k], path+"."+k); p != "" {
				return p
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return path
		}
		for i := range w {
			if p := lost(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
		return ""
	}
	if !reflect.DeepEqual(want, got) {
		return path
	}
	return ""
}

func echo() http.Handler {
	rt := httpapi.NewRouter(discard())
	handle := func(r *http.Request) (httpapi.Response, error) {
		b, _ := io.ReadAll(r.Body)
		return httpapi.Created(map[string]string{
			"id": r.PathValue("id"), "bot": r.Header.Get("x-bot-id"), "body": string(b),
			"query": r.URL.Query().Get("tags.a"), "rid": httpapi.RequestID(r.Context()),
		}), nil
	}
	rt.Handle("GET", "/v1/chat/users/{id}", handle)
	rt.Handle("POST", "/v1/chat/users", handle)
	return rt
}

func TestHandlerServesSampleEvent(t *testing.T) {
	raw, _ := os.ReadFile("../../events/apigw-v2-create-user.json")
	var ev events.APIGatewayV2HTTPRequest
	_ = json.Unmarshal(raw, &ev)
	ev.Headers["x-parley-request-id"] = "forged"
	res, err := Handler(echo())(context.Background(), ev)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("%v %+v", err, res)
	}
	var got map[string]string
	_ = json.Unmarshal([]byte(res.Body), &got)
	if got["bot"] != "bot_01JABCDEF0123456789ABCDEFG" || !strings.Contains(got["body"], "ann@example.com") || got["rid"] != "JKJaXmPLvHcESHB=" {
		t.Fatalf("handler saw %v", got)
	}
}

// A real HTTP request, turned into an event, served and written back, is
// what the local runner does for every call.
func TestEventAndWrite(t *testing.T) {
	invoke := Handler(echo())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := Event(r, "GET /v1/chat/users/{id}", "rid-1", map[string]string{"id": "u1"})
		if err != nil {
			t.Error(err)
		}
		res, err := invoke(r.Context(), ev)
		if err != nil {
			t.Error(err)
		}
		Write(w, res)
	}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/v1/chat/users/u1?tags.a=x%20y", nil)
	req.Header.Set("X-Bot-Id", "b1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got map[string]string
	_ = json.NewDecoder(res.Body).Decode(&got)
	if res.StatusCode != 201 || got["id"] != "u1" || got["bot"] != "b1" || got["query"] != "x y" || got["rid"] != "rid-1" {
		t.Fatalf("%d %v", res.StatusCode, got)
	}
	if res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("content type %q", res.Header.Get("Content-Type"))
	}
}
