package retention_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type R = testenv.Req

var want = testenv.Want

// world is an account with a workspace and a bot.
type world struct {
	env            *testenv.Env
	token, ws, bot string
}

func newWorld(t testing.TB, env *testenv.Env) world {
	t.Helper()
	w := world{env: env, token: env.NewAccount(t)}
	ws := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: w.token, Body: map[string]any{"name": "w"}})
	want(t, ws, 200, "")
	w.ws = ws.Body["id"].(string)
	w.bot = w.newBot(t)
	return w
}

func (w world) newBot(t testing.TB) string {
	t.Helper()
	bot := w.env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: w.token, Headers: w.h(), Body: map[string]any{"name": "b"}})
	want(t, bot, 200, "")
	return bot.Body["bot"].(map[string]any)["id"].(string)
}

func (w world) h() map[string]string { return map[string]string{"x-workspace-id": w.ws} }

func (w world) call(t testing.TB, method, path string, body any) testenv.Response {
	t.Helper()
	return w.env.Do(t, R{Method: method, Path: "/api/v1/policy" + path, Token: w.token, Headers: w.h(), Body: body})
}

func (w world) create(t testing.TB, name string, config map[string]any) string {
	t.Helper()
	res := w.call(t, "POST", "/create", map[string]any{"name": name, "description": "test policy", "type": "retention", "config": config})
	want(t, res, 200, "")
	return res.Body["id"].(string)
}

// conv describes a conversation to seed.
type conv struct {
	bot              string
	created, updated time.Time
	messages         int
	tags             map[string]string
	channel, integr  string
	id               string
	items            int
}

var iso = func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// seed writes a conversation the way the chat API stores it: the
// conversation item (indexed by update on gsi2), messages, a participant.
func seed(t testing.TB, env *testenv.Env, c *conv) {
	t.Helper()
	if c.updated.IsZero() {
		c.updated = c.created
	}
	if c.channel == "" {
		c.channel = "web"
	}
	c.id = id.NewAt(id.Conversation, c.created)
	part := "BOT#" + c.bot + "#CONV#" + c.id
	tags := c.tags
	if tags == nil {
		tags = map[string]string{}
	}
	items := []map[string]types.AttributeValue{
		ds.Item(map[string]any{"id": c.id, "createdAt": iso(c.created), "updatedAt": iso(c.updated), "tags": tags, "channel": c.channel, "integration": c.integr},
			map[string]string{ds.PK: "BOT#" + c.bot, ds.SK: "CONV#" + c.id, "gsi2pk": "BOT#" + c.bot + "#CONVS", "gsi2sk": iso(c.updated) + "#" + c.id}),
		ds.Item(map[string]any{"userId": "user_a"}, map[string]string{ds.PK: part, ds.SK: "PART#user_a", ds.GSI1PK: "BOT#" + c.bot + "#USER#user_a#CONVS", ds.GSI1SK: iso(c.created) + "#" + c.id}),
	}
	for i := 0; i < c.messages; i++ {
		at := c.created.Add(time.Duration(i) * time.Minute)
		mid := id.NewAt(id.Message, at)
		items = append(items, ds.Item(map[string]any{"id": mid, "type": "text", "payload": map[string]any{"text": fmt.Sprint("message ", i)}, "tags": map[string]string{"n": fmt.Sprint(i)}, "createdAt": iso(at)},
			map[string]string{ds.PK: part, ds.SK: "MSG#" + mid, "gsi2pk": "BOT#" + c.bot + "#MSGS", "gsi2sk": mid}))
	}
	c.items = len(items)
	env.PutChatItems(t, items)
}

// stored counts the items left of a conversation (its item and partition).
func stored(t testing.TB, env *testenv.Env, bot, conv string) int {
	t.Helper()
	return env.ConversationItems(t, bot, conv)
}

// runs lists a policy's runs, newest first.
func (w world) runs(t testing.TB, pol string) []map[string]any {
	t.Helper()
	res := w.call(t, "GET", "/"+pol+"/runs", nil)
	want(t, res, 200, "")
	var out []map[string]any
	for _, r := range res.Body["items"].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

// awaitRuns waits until the policy has n runs, all finished.
func (w world) awaitRuns(t testing.TB, pol string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		runs := w.runs(t, pol)
		done := len(runs) == n
		for _, r := range runs {
			if r["status"] != "completed" && r["status"] != "failed" {
				done = false
			}
		}
		if done {
			return runs
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("policy %s: runs did not finish: %v", pol, w.runs(t, pol))
	return nil
}

func counts(run map[string]any) string {
	return fmt.Sprintf("total=%v archived=%v deleted=%v skipped=%v failed=%v reasons=%v",
		run["totalCount"], run["archivedCount"], run["deletedCount"], run["skippedCount"], run["failedCount"], run["skippedReasons"])
}

// archive downloads and gunzips an archive object.
func archive(t testing.TB, env *testenv.Env, key string) ([]lifecycle.Line, *s3.GetObjectOutput) {
	t.Helper()
	client := s3.NewFromConfig(env.AWS, func(o *s3.Options) { o.UsePathStyle = true })
	out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(env.Env["BUCKET_ARCHIVE"]), Key: &key})
	if err != nil {
		t.Fatalf("archive %s: %v", key, err)
	}
	defer out.Body.Close()
	zr, err := gzip.NewReader(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	var lines []lifecycle.Line
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l lifecycle.Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	return lines, out
}

func s3Head(env *testenv.Env, key string) (*s3.HeadObjectOutput, error) {
	client := s3.NewFromConfig(env.AWS, func(o *s3.Options) { o.UsePathStyle = true })
	return client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(env.Env["BUCKET_ARCHIVE"]), Key: &key})
}
