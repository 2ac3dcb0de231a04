package files_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors"
	"github.com/parley-dev/parley/pkg/filedata"
	"github.com/parley-dev/parley/pkg/files"
	"github.com/parley-dev/parley/pkg/search"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type R = testenv.Req

var (
	want      = testenv.Want
	wantCalls = testenv.WantCalls
)

const botAuth = 2

type fixture struct {
	env   *testenv.Env
	token string
	ws    string
	bot   string
}

func newBot(t *testing.T, env *testenv.Env, token string) fixture {
	t.Helper()
	ws := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: token, Body: map[string]any{"name": "w"}})
	want(t, ws, 200, "")
	f := fixture{env: env, token: token, ws: ws.Body["id"].(string)}
	bot := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: token, Headers: map[string]string{"x-workspace-id": f.ws}, Body: map[string]any{"name": "b"}})
	want(t, bot, 200, "")
	f.bot = bot.Body["bot"].(map[string]any)["id"].(string)
	return f
}

func (f fixture) do(t *testing.T, method, path string, body any) testenv.Response {
	t.Helper()
	return f.env.Do(t, R{Method: method, Path: path, Token: f.token, Headers: map[string]string{"x-bot-id": f.bot}, Body: body})
}

func file(res testenv.Response) map[string]any { return res.Body["file"].(map[string]any) }

// upload upserts a file and PUTs content to its upload URL, as
// @botpress/client's uploadFile does.
func (f fixture) upload(t *testing.T, body map[string]any, content []byte) map[string]any {
	t.Helper()
	if _, ok := body["size"]; !ok {
		body["size"] = len(content)
	}
	res := f.do(t, "PUT", "/v1/files", body)
	want(t, res, 200, "")
	fl := file(res)
	put(t, fl["uploadUrl"].(string), fl["contentType"].(string), content)
	return fl
}

func put(t *testing.T, u, contentType string, content []byte) {
	t.Helper()
	req, _ := http.NewRequest("PUT", u, bytes.NewReader(content))
	req.Header.Set("Content-Type", contentType)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("upload: %s", res.Status)
	}
}

// waitStatus polls getFile until the file reaches one of statuses.
func (f fixture) waitStatus(t *testing.T, id string, statuses ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res := f.do(t, "GET", "/v1/files/"+id, nil)
		want(t, res, 200, "")
		fl := file(res)
		for _, s := range statuses {
			if fl["status"] == s {
				return fl
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("file %s still %v (reason %v), want %v", id, fl["status"], fl["failedStatusReason"], statuses)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (f fixture) search(t *testing.T, query string, extra string) []any {
	t.Helper()
	res := f.do(t, "GET", "/v1/files/search?query="+url.QueryEscape(query)+extra, nil)
	want(t, res, 200, "")
	return res.Body["passages"].([]any)
}

const handbook = `# Employee handbook

## Leave

Employees accrue two days of paid leave per month. Unused leave carries over to the next year, up to ten days.

## Expenses

Submit expense reports within thirty days. Receipts above twenty dollars are required.

## Security

Badges must be worn at all times inside the office. Lost badges are reported to the front desk.
`

func TestUploadIndexSearchListUpdateDelete(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))

	created := f.do(t, "PUT", "/v1/files", map[string]any{"key": "docs/handbook.md", "size": len(handbook), "index": true,
		"tags": map[string]any{"lang": "en", "team": "hr"}, "metadata": map[string]any{"source": "wiki"}})
	want(t, created, 200, "")
	// The workspace's plan, the key's claim, then the file and its claim
	// with the quota check in one transaction.
	wantCalls(t, created, botAuth, "DynamoDB.GetItem=2,DynamoDB.TransactWriteItems=1")
	fl := file(created)
	id := fl["id"].(string)
	if !strings.HasPrefix(id, "file_") || fl["status"] != "upload_pending" || fl["contentType"] != "text/markdown" || fl["size"] != nil ||
		fl["botId"] != f.bot || fl["owner"].(map[string]any)["type"] != "bot" || fl["index"] != true || fl["metadata"].(map[string]any)["source"] != "wiki" {
		t.Fatalf("upserted %v", fl)
	}
	u, err := url.Parse(fl["uploadUrl"].(string))
	if err != nil || !strings.Contains(u.Query().Get("X-Amz-SignedHeaders"), "content-length") || !strings.Contains(u.Query().Get("X-Amz-SignedHeaders"), "content-type") || u.Query().Get("X-Amz-Expires") != "900" {
		t.Fatalf("upload URL %s does not bind size, type and a 15-minute expiry", fl["uploadUrl"])
	}
	put(t, fl["uploadUrl"].(string), "text/markdown", []byte(handbook))
	fl = f.waitStatus(t, id, "indexing_completed", "indexing_failed")
	if fl["status"] != "indexing_completed" || fl["size"] != float64(len(handbook)) {
		t.Fatalf("indexed %v", fl)
	}

	res := f.do(t, "GET", "/v1/files/search?query="+url.QueryEscape("How many days of paid leave per month?"), nil)
	want(t, res, 200, "")
	// One vector query and one batch read, whatever the number of files.
	wantCalls(t, res, botAuth, "DynamoDB.BatchGetItem=1,S3Vectors.QueryVectors=1")
	ps := res.Body["passages"].([]any)
	if len(ps) == 0 || !strings.Contains(ps[0].(map[string]any)["content"].(string), "two days of paid leave") {
		t.Fatalf("search answered %v", ps)
	}
	top := ps[0].(map[string]any)
	if top["file"].(map[string]any)["id"] != id || top["meta"].(map[string]any)["type"] != "chunk" || top["score"].(float64) <= 0 {
		t.Fatalf("passage %v", top)
	}
	// contextDepth prepends and appends the neighbouring passages.
	ctxRes := f.do(t, "GET", "/v1/files/search?limit=1&contextDepth=1&withContext=true&query="+url.QueryEscape("expense reports receipts"), nil)
	want(t, ctxRes, 200, "")
	withCtx := ctxRes.Body["passages"].([]any)[0].(map[string]any)
	if c := withCtx["content"].(string); !strings.Contains(c, "expense reports") || !strings.Contains(c, "paid leave") || !strings.Contains(c, "Badges") {
		t.Fatalf("content with context: %q", c)
	}
	if len(withCtx["context"].([]any)) != 3 {
		t.Fatalf("context %v", withCtx["context"])
	}
	// Tags filter the search; a tag no file has finds nothing.
	if got := f.search(t, "paid leave", "&tags.team=hr"); len(got) == 0 {
		t.Fatal("tag filter lost the passage")
	}
	if got := f.search(t, "paid leave", "&tags.team=sales"); len(got) != 0 {
		t.Fatalf("tag filter kept %v", got)
	}

	// get by id and by key; list with tags.
	got := f.do(t, "GET", "/v1/files/"+id, nil)
	wantCalls(t, got, botAuth, "DynamoDB.GetItem=1")
	byKey := f.do(t, "GET", "/v1/files/"+url.PathEscape("docs/handbook.md"), nil)
	want(t, byKey, 200, "")
	wantCalls(t, byKey, botAuth, "DynamoDB.GetItem=2")
	if file(byKey)["id"] != id || !strings.Contains(file(got)["url"].(string), "X-Amz-Signature") {
		t.Fatalf("by key %v", file(byKey))
	}
	list := f.do(t, "GET", "/v1/files?tags.lang=en", nil)
	want(t, list, 200, "")
	wantCalls(t, list, botAuth, "DynamoDB.Query=1")
	if files := list.Body["files"].([]any); len(files) != 1 || files[0].(map[string]any)["id"] != id {
		t.Fatalf("list %v", list.Body)
	}
	if files := f.do(t, "GET", "/v1/files?tags.lang=fr", nil).Body["files"].([]any); len(files) != 0 {
		t.Fatalf("list with another tag %v", files)
	}

	// updateFileMetadata: tags merged (null removes), policies replaced.
	up := f.do(t, "PUT", "/v1/files/"+id, map[string]any{"tags": map[string]any{"team": nil, "dept": "people"}, "accessPolicies": []string{"integrations"}})
	want(t, up, 200, "")
	wantCalls(t, up, botAuth, "DynamoDB.GetItem=1,DynamoDB.UpdateItem=1,SQS.SendMessage=1")
	tags := file(up)["tags"].(map[string]any)
	if _, ok := tags["team"]; ok || tags["dept"] != "people" || tags["lang"] != "en" || file(up)["accessPolicies"].([]any)[0] != "integrations" {
		t.Fatalf("updated %v", file(up))
	}
	// The vectors are re-tagged in the background; the live record decides meanwhile.
	if got := f.search(t, "paid leave", "&tags.team=hr"); len(got) != 0 {
		t.Fatalf("a removed tag still matched: %v", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(f.search(t, "paid leave", "&tags.dept=people")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the new tag never became searchable")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// deleteFile: gone at once; its object, passages and vectors are erased.
	del := f.do(t, "DELETE", "/v1/files/"+id, nil)
	want(t, del, 200, "")
	wantCalls(t, del, botAuth, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1,SQS.SendMessageBatch=1")
	want(t, f.do(t, "GET", "/v1/files/"+id, nil), 404, "ResourceNotFound")
	if got := f.search(t, "paid leave", ""); len(got) != 0 {
		t.Fatalf("a deleted file's passages were found: %v", got)
	}
	waitGone(t, env, f.bot, id, 1)
	want(t, f.do(t, "DELETE", "/v1/files/"+id, nil), 404, "ResourceNotFound")
}

// waitGone waits until nothing of a file's generation 1..gens is left: its
// objects, passages and vectors.
func waitGone(t *testing.T, env *testenv.Env, bot, id string, gens int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		objects, passages, vectors := leftovers(t, env, bot, id, gens)
		if objects+passages+vectors == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left of file %s: %d objects, %d passages, %d vectors", id, objects, passages, vectors)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func leftovers(t *testing.T, env *testenv.Env, bot, id string, gens int) (objects, passages, vectors int) {
	t.Helper()
	ctx := context.Background()
	out, err := s3.NewFromConfig(env.AWS, func(o *s3.Options) { o.UsePathStyle = true }).ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: aws.String(env.Env["BUCKET_FILES"]), Prefix: aws.String(filedata.ObjectPrefix(bot, id))})
	if err != nil {
		t.Fatal(err)
	}
	objects = len(out.Contents)
	passages, err = filedata.NewStore(env.Deps.DB, env.Env["TABLE_FILES"], nil).CountPassages(ctx, bot, id)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for g := 1; g <= gens; g++ {
		for p := 0; p < 50; p++ {
			keys = append(keys, filedata.VectorKey(id, g, p))
		}
	}
	vs, err := vectorIndex(env).Get(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	return objects, passages, len(vs)
}

func vectorIndex(env *testenv.Env) search.S3Vectors {
	bucket, index, _ := topology.SplitVectorLocation(env.Env["VECTORS_PASSAGES"])
	return search.S3Vectors{Client: s3vectors.NewFromConfig(env.AWS), Bucket: bucket, Index: index}
}

func TestReplaceAndConcurrentUpserts(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	first := f.upload(t, map[string]any{"key": "faq.txt", "index": true}, []byte("Parcels to Norway take five business days."))
	id := first["id"].(string)
	f.waitStatus(t, id, "indexing_completed")

	// An upsert of the key replaces the content and resets the status.
	again := f.do(t, "PUT", "/v1/files", map[string]any{"key": "faq.txt", "size": 40, "index": true})
	want(t, again, 200, "")
	// The plan, the claim, the file; the new generation, the usage and the
	// old generation's erase intent in one transaction; the erasure's kick.
	wantCalls(t, again, botAuth, "DynamoDB.GetItem=3,DynamoDB.TransactWriteItems=1,SQS.SendMessageBatch=1")
	if file(again)["id"] != id || file(again)["status"] != "upload_pending" || file(again)["createdAt"] != first["createdAt"] {
		t.Fatalf("replaced %v", file(again))
	}
	if got := f.search(t, "parcels Norway", ""); len(got) != 0 {
		t.Fatalf("the replaced content is still found: %v", got)
	}
	put(t, file(again)["uploadUrl"].(string), "text/plain", []byte("Parcels to Sweden take three workdays!!"[:39]+"."))
	f.waitStatus(t, id, "indexing_completed")
	ps := f.search(t, "parcels Sweden", "")
	if len(ps) != 1 || !strings.Contains(ps[0].(map[string]any)["content"].(string), "Sweden") {
		t.Fatalf("after replacement %v", ps)
	}
	// The first generation's object, passages and vectors are erased.
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := s3.NewFromConfig(env.AWS, func(o *s3.Options) { o.UsePathStyle = true }).HeadObject(context.Background(), &s3.HeadObjectInput{
			Bucket: aws.String(env.Env["BUCKET_FILES"]), Key: aws.String(filedata.ObjectKey(f.bot, id, 1))})
		vs, _ := vectorIndex(env).Get(context.Background(), []string{filedata.VectorKey(id, 1, 0)})
		if err != nil && out == nil && len(vs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replaced generation was not erased")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Concurrent upserts of one key yield one file.
	var wg sync.WaitGroup
	ids := make([]string, 6)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := f.do(t, "PUT", "/v1/files", map[string]any{"key": "race.txt", "size": 3})
			if res.Status == 200 {
				ids[i] = file(res)["id"].(string)
			} else {
				t.Logf("concurrent upsert: %d %s", res.Status, res.Raw)
			}
		}()
	}
	wg.Wait()
	for _, got := range ids {
		if got == "" || got != ids[0] {
			t.Fatalf("concurrent upserts answered %v", ids)
		}
	}
	list := f.do(t, "GET", "/v1/files", nil).Body["files"].([]any)
	n := 0
	for _, x := range list {
		if x.(map[string]any)["key"] == "race.txt" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d files with the key", n)
	}
}

func TestBadInputAndTenancy(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	other := newBot(t, env, env.NewAccount(t))

	for _, c := range []struct {
		body   map[string]any
		status int
		typ    string
	}{
		{map[string]any{"size": 3}, 400, "InvalidPayload"},
		{map[string]any{"key": "", "size": 3}, 400, "InvalidPayload"},
		{map[string]any{"key": "a.txt"}, 400, "InvalidPayload"},
		{map[string]any{"key": "a.txt", "size": -1}, 400, "InvalidPayload"},
		{map[string]any{"key": "a.txt", "size": 1.5}, 400, "InvalidPayload"},
		{map[string]any{"key": "a.txt", "size": 3, "accessPolicies": []string{"everyone"}}, 400, "InvalidPayload"},
		{map[string]any{"key": "a.txt", "size": 3, "surprise": true}, 400, "InvalidPayload"},
		{map[string]any{"key": "a.txt", "size": 3, "contentType": "not a type"}, 400, "InvalidPayload"},
		// Over the community plan's largest file (10 MiB).
		{map[string]any{"key": "big.bin", "size": 11 << 20}, 403, "QuotaExceeded"},
	} {
		res := f.do(t, "PUT", "/v1/files", c.body)
		want(t, res, c.status, c.typ)
	}
	if files := f.do(t, "GET", "/v1/files", nil).Body["files"].([]any); len(files) != 0 {
		t.Fatalf("bad input wrote %v", files)
	}

	// An upload of another size than declared fails the file and leaves no object.
	wrong := f.do(t, "PUT", "/v1/files", map[string]any{"key": "wrong.txt", "size": 10})
	want(t, wrong, 200, "")
	wid := file(wrong)["id"].(string)
	put(t, file(wrong)["uploadUrl"].(string), "text/plain", []byte("only five"))
	failed := f.waitStatus(t, wid, "upload_failed")
	if !strings.Contains(failed["failedStatusReason"].(string), "declared as 10 bytes") || failed["size"] != nil {
		t.Fatalf("failed %v", failed)
	}
	if objects, _, _ := leftovers(t, env, f.bot, wid, 1); objects != 0 {
		t.Fatal("the wrong-sized upload was kept")
	}

	// An unreadable file ends indexing_failed with a reason a user understands.
	img := f.upload(t, map[string]any{"key": "photo.png", "index": true}, []byte("\x89PNG not really"))
	bad := f.waitStatus(t, img["id"].(string), "indexing_failed")
	if !strings.Contains(bad["failedStatusReason"].(string), "cannot be indexed") {
		t.Fatalf("reason %v", bad["failedStatusReason"])
	}

	// Another bot sees, downloads, searches and deletes nothing of this one's.
	doc := f.upload(t, map[string]any{"key": "secret.txt", "index": true}, []byte("The vault code is kept by the night manager."))
	sid := doc["id"].(string)
	f.waitStatus(t, sid, "indexing_completed")
	want(t, other.do(t, "GET", "/v1/files/"+sid, nil), 404, "ResourceNotFound")
	want(t, other.do(t, "GET", "/v1/files/secret.txt", nil), 404, "ResourceNotFound")
	want(t, other.do(t, "PUT", "/v1/files/"+sid, map[string]any{"tags": map[string]any{"x": "y"}}), 404, "ResourceNotFound")
	want(t, other.do(t, "DELETE", "/v1/files/"+sid, nil), 404, "ResourceNotFound")
	if got := other.search(t, "vault code night manager", ""); len(got) != 0 {
		t.Fatalf("another bot found %v", got)
	}
	if files := other.do(t, "GET", "/v1/files", nil).Body["files"].([]any); len(files) != 0 {
		t.Fatalf("another bot lists %v", files)
	}
	// Its own token on this bot is refused.
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/files/" + sid, Token: other.token, Headers: map[string]string{"x-bot-id": f.bot}}), 403, "Forbidden")
	// A private file has no public URL.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.Get(env.URL + "/v1/files/public/" + f.bot + "/" + sid)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("public URL of a private file: %s", res.Status)
	}
	if got := f.search(t, "vault code", ""); len(got) != 1 {
		t.Fatalf("the owner's search: %v", got)
	}
}

func TestPublicContentKeepsWorking(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	content := []byte("<html><body><h1>Opening hours</h1><p>Monday to Friday.</p></body></html>")
	fl := f.upload(t, map[string]any{"key": "site/hours.html", "accessPolicies": []string{"public_content"}}, content)
	id := fl["id"].(string)
	public := fl["url"].(string)
	if public != env.URL+"/v1/files/public/"+f.bot+"/"+id {
		t.Fatalf("public URL %s", public)
	}
	f.waitStatus(t, id, "upload_completed")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := 0; i < 2; i++ { // each visit gets a fresh download URL
		res, err := noRedirect.Get(public)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 302 || !strings.Contains(res.Header.Get("Location"), "X-Amz-Signature") {
			t.Fatalf("visit %d: %s %v", i, res.Status, res.Header)
		}
	}
	res, err := http.Get(public)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Equal(got, content) {
		t.Fatalf("public content %q", got)
	}
	// Taking the policy away closes the URL.
	want(t, f.do(t, "PUT", "/v1/files/"+id, map[string]any{"accessPolicies": []string{}}), 200, "")
	res, _ = noRedirect.Get(public)
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("after the policy was removed: %s", res.Status)
	}
	fmt.Fprint(io.Discard, f.ws)
}

// A 50-page PDF uploaded through the local stack (moto's S3, SQS,
// DynamoDB and S3 Vectors) is searchable within seconds of its upload.
func TestFiftyPagePDFThroughTheStack(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	content := files.FiftyPagePDF()
	start := time.Now()
	fl := f.upload(t, map[string]any{"key": "reports/operations.pdf", "index": true}, content)
	done := f.waitStatus(t, fl["id"].(string), "indexing_completed", "indexing_failed")
	took := time.Since(start)
	if done["status"] != "indexing_completed" {
		t.Fatalf("indexed %v", done)
	}
	ps := f.search(t, "warehouse team reduced returns region 37", "&limit=3")
	t.Logf("50-page PDF (%d KB): upload to indexing_completed in %v", len(content)>>10, took.Round(time.Millisecond))
	if len(ps) != 3 || ps[0].(map[string]any)["meta"].(map[string]any)["pageNumber"] == nil {
		t.Fatalf("search %v", ps)
	}
	if took > 60*time.Second {
		t.Fatalf("a 50-page PDF took %v to index locally", took)
	}
}

// A retention policy with resources "files" archives (record and passages)
// and erases files older than its maxAge, leaving files under legal hold.
func TestRetentionGovernsFiles(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	old := f.upload(t, map[string]any{"key": "old.md", "index": true}, []byte("# Old\n\nThe old price list from 2019."))
	held := f.upload(t, map[string]any{"key": "held.txt", "tags": map[string]any{"legalHold": "true"}}, []byte("keep"))
	f.waitStatus(t, old["id"].(string), "indexing_completed")
	f.waitStatus(t, held["id"].(string), "upload_completed")
	pol := env.Do(t, R{Method: "POST", Path: "/api/v1/policy/create", Token: f.token, Headers: map[string]string{"x-workspace-id": f.ws},
		Body: map[string]any{"name": "old-files", "description": "archive files after a second", "type": "retention",
			"config": map[string]any{"maxAge": "PT1S", "resources": "files", "basis": "createdAt"}}})
	want(t, pol, 200, "")
	time.Sleep(1100 * time.Millisecond)
	if err := env.Fire(context.Background(), "offpeak"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); f.do(t, "GET", "/v1/files/"+old["id"].(string), nil).Status != 404; {
		if time.Now().After(deadline) {
			t.Fatal("the old file was not erased by the policy")
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitGone(t, env, f.bot, old["id"].(string), 1)
	want(t, f.do(t, "GET", "/v1/files/"+held["id"].(string), nil), 200, "")
	s3c := s3.NewFromConfig(env.AWS, func(o *s3.Options) { o.UsePathStyle = true })
	list, err := s3c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(env.Env["BUCKET_ARCHIVE"]), Prefix: aws.String(f.ws + "/" + f.bot + "/files/")})
	if err != nil || len(list.Contents) != 1 {
		t.Fatalf("archives %v %v", list, err)
	}
	obj, err := s3c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(env.Env["BUCKET_ARCHIVE"]), Key: list.Contents[0].Key})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	obj.Body.Close()
	if !strings.Contains(string(raw), `"type":"file"`) || !strings.Contains(string(raw), `"type":"passage"`) || !strings.Contains(string(raw), "old price list") {
		t.Fatalf("archive %s", raw)
	}
}
