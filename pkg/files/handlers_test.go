package files

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/filedata"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/search"
)

// Handler unit tests: no emulator; the files table, the plans, the
// lifecycle and the queue are fakes (structs of functions). A method a
// test does not set panics through the nil embedded interface, so an
// unexpected call fails the test.

type fakeData struct {
	Data
	file          func(ctx context.Context, bot, id string) (File, error)
	fileByKey     func(ctx context.Context, bot, key string) (File, bool, error)
	createFile    func(ctx context.Context, f File, room Room) error
	replaceFile   func(ctx context.Context, old, f File, room Room, intent types.TransactWriteItem) error
	deleteFile    func(ctx context.Context, f File, intent types.TransactWriteItem) error
	read          func(ctx context.Context, bot string, files []string, ps []PassageRef) (map[string]File, map[PassageRef]Passage, error)
	updateFileMD  func(ctx context.Context, bot, id string, up MetadataUpdate) (File, error)
	listFilesFunc func(ctx context.Context, bot string, f ListFilter, token string) ([]File, string, error)
}

func (f *fakeData) File(ctx context.Context, bot, id string) (File, error) {
	return f.file(ctx, bot, id)
}
func (f *fakeData) FileByKey(ctx context.Context, bot, key string) (File, bool, error) {
	return f.fileByKey(ctx, bot, key)
}
func (f *fakeData) CreateFile(ctx context.Context, fl File, room Room) error {
	return f.createFile(ctx, fl, room)
}
func (f *fakeData) ReplaceFile(ctx context.Context, old, fl File, room Room, intent types.TransactWriteItem) error {
	return f.replaceFile(ctx, old, fl, room, intent)
}
func (f *fakeData) DeleteFile(ctx context.Context, fl File, intent types.TransactWriteItem) error {
	return f.deleteFile(ctx, fl, intent)
}
func (f *fakeData) Read(ctx context.Context, bot string, files []string, ps []PassageRef) (map[string]File, map[PassageRef]Passage, error) {
	return f.read(ctx, bot, files, ps)
}
func (f *fakeData) UpdateMetadata(ctx context.Context, bot, id string, up MetadataUpdate) (File, error) {
	return f.updateFileMD(ctx, bot, id, up)
}
func (f *fakeData) ListFiles(ctx context.Context, bot string, fl ListFilter, token string) ([]File, string, error) {
	return f.listFilesFunc(ctx, bot, fl, token)
}

type fakePlans struct{ limits Limits }

func (p fakePlans) Limits(context.Context, string) (Limits, error) { return p.limits, nil }

type fakeEraser struct{ intents, kicks []string }

func (e *fakeEraser) EraseIntent(bot, kind, id string, _ time.Time) types.TransactWriteItem {
	e.intents = append(e.intents, kind+":"+id)
	return types.TransactWriteItem{}
}
func (e *fakeEraser) Kick(_ context.Context, bot, kind, id string) error {
	e.kicks = append(e.kicks, kind+":"+id)
	return nil
}

type fakeJobs struct{ retagged []string }

func (j *fakeJobs) Retag(_ context.Context, bot, file string) error {
	j.retagged = append(j.retagged, file)
	return nil
}

var now = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

var community = Limits{Plan: "community", StorageBytes: 100 << 20, VectorBytes: 100 << 20, MaxFileBytes: 10 << 20}

// presignClient is a real presigner with static credentials: presigning
// makes no call.
func presignClient() *s3.PresignClient {
	return s3.NewPresignClient(s3.New(s3.Options{Region: "us-east-1", UsePathStyle: true,
		BaseEndpoint: aws.String("http://s3.local"), Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}))
}

func testAPI(d *fakeData, e *fakeEraser, j *fakeJobs) *API {
	return NewAPI(Deps{Data: d, Presign: presignClient(), Bucket: "files-bucket", Plans: fakePlans{community}, Eraser: e, Jobs: j,
		Embed: search.Local{Dim: 64}, Index: search.NewMemory(), Clock: &clock.Fixed{T: now}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func call(h httpapi.Handler, method, target string, body any, p auth.Principal, pathValues map[string]string) (httpapi.Response, error) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	r := httptest.NewRequest(method, target, rd)
	r.Header.Set("Content-Type", "application/json")
	for k, v := range pathValues {
		r.SetPathValue(k, v)
	}
	if p.BotID == "" {
		p = auth.Principal{BotID: "bot_1", WorkspaceID: "ws_1"}
	}
	return h(r.WithContext(auth.WithPrincipal(r.Context(), p)))
}

// noWrites is a store that fails the test on any write.
func noWrites(t *testing.T) *fakeData {
	return &fakeData{
		fileByKey:  func(context.Context, string, string) (File, bool, error) { return File{}, false, nil },
		createFile: func(context.Context, File, Room) error { t.Fatal("a file was written"); return nil },
	}
}

func TestUpsertBadInputWritesNothing(t *testing.T) {
	for _, c := range []struct {
		body any
		typ  apperr.Type
		msg  string
	}{
		{map[string]any{"size": 1}, apperr.InvalidPayload, "key is required"},
		{map[string]any{"key": " ", "size": 1}, apperr.InvalidPayload, "key must not be empty"},
		{map[string]any{"key": "a\x01b", "size": 1}, apperr.InvalidPayload, "control"},
		{map[string]any{"key": "a"}, apperr.InvalidPayload, "size is required"},
		{map[string]any{"key": "a", "size": -4}, apperr.InvalidPayload, "whole number"},
		{map[string]any{"key": "a", "size": 1, "accessPolicies": []string{"public"}}, apperr.InvalidPayload, `accessPolicies[0] must be "public_content" or "integrations"`},
		{map[string]any{"key": "a", "size": 1, "tags": map[string]any{"k": 3}}, apperr.InvalidPayload, "tags"},
		{map[string]any{"key": "a", "size": 1, "metadata": []int{1}}, apperr.InvalidPayload, "metadata must be an object"},
		{map[string]any{"key": "a", "size": 1, "expiresAt": "2020-01-01T00:00:00Z"}, apperr.InvalidPayload, "expiresAt must be in the future"},
		{map[string]any{"key": "a", "size": 11 << 20}, apperr.QuotaExceeded, "community plan allows files of at most"},
		{map[string]any{"key": "a", "size": 96 << 20, "index": true}, apperr.QuotaExceeded, ""},
	} {
		a := testAPI(noWrites(t), &fakeEraser{}, &fakeJobs{})
		_, err := call(a.upsertFile, "PUT", "/v1/files", c.body, auth.Principal{}, nil)
		if e := apperr.As(err); e == nil || e.Type != c.typ || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%v: %v, want %s with %q", c.body, err, c.typ, c.msg)
		}
	}
}

func TestUpsertCreatesAndSignsTheUpload(t *testing.T) {
	var saved File
	var room Room
	d := &fakeData{
		fileByKey:  func(context.Context, string, string) (File, bool, error) { return File{}, false, nil },
		createFile: func(_ context.Context, f File, r Room) error { saved, room = f, r; return nil },
	}
	a := testAPI(d, &fakeEraser{}, &fakeJobs{})
	res, err := call(a.upsertFile, "PUT", "/v1/files", map[string]any{"key": "guides/Été.pdf", "size": 1234, "index": true,
		"tags": map[string]any{"a": "b"}, "publicContentImmediatelyAccessible": true}, auth.Principal{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if saved.ContentType != "application/pdf" || saved.DeclaredSize != 1234 || saved.Gen != 1 || saved.Status != filedata.UploadPending ||
		saved.ChargedTo != "ws_1" || room.Limit != community.StorageBytes || saved.Owner.Type != "bot" || saved.Owner.ID != "bot_1" {
		t.Fatalf("saved %+v in %+v", saved, room)
	}
	out := res.Body.(map[string]any)["file"].(answer)
	u, _ := url.Parse(out.UploadURL)
	q := u.Query()
	// Size, type and tagging are bound into the signature; the URL expires.
	if signed := q.Get("X-Amz-SignedHeaders"); signed != "content-length;content-type;host;x-amz-tagging" || q.Get("X-Amz-Expires") != "900" {
		t.Fatalf("signed headers %q, expiry %q", signed, q.Get("X-Amz-Expires"))
	}
	if !strings.HasSuffix(u.Path, "/files-bucket/"+filedata.ObjectKey("bot_1", saved.ID, 1)) {
		t.Fatalf("upload path %s", u.Path)
	}
	d2, _ := url.Parse(out.URL)
	if d2.Query().Get("X-Amz-Expires") != "900" || !strings.Contains(d2.Query().Get("response-content-disposition"), "filename*=utf-8''%C3%89t%C3%A9.pdf") {
		t.Fatalf("download URL %s", out.URL)
	}
	if out.Size != nil {
		t.Fatal("a pending upload answered a size")
	}
}

func TestUpsertQuotaAndReplacement(t *testing.T) {
	// No room in the workspace: 403, and the transaction wrote nothing.
	d := &fakeData{
		fileByKey:  func(context.Context, string, string) (File, bool, error) { return File{}, false, nil },
		createFile: func(context.Context, File, Room) error { return filedata.ErrQuota },
	}
	_, err := call(testAPI(d, &fakeEraser{}, &fakeJobs{}).upsertFile, "PUT", "/v1/files", map[string]any{"key": "a", "size": 5}, auth.Principal{}, nil)
	if !apperr.Is(err, apperr.QuotaExceeded) {
		t.Fatalf("full workspace: %v", err)
	}

	// A key that exists starts a new generation; the old one's erasure is
	// recorded with it and kicked; a lost race is retried.
	old := File{ID: "file_1", BotID: "bot_1", Key: "a", Gen: 3, CreatedAt: "2026-01-01T00:00:00.000Z", Owner: Owner{Type: "bot"}, Status: filedata.IndexingCompleted}
	tries := 0
	var saved File
	d = &fakeData{
		fileByKey: func(context.Context, string, string) (File, bool, error) { return old, true, nil },
		replaceFile: func(_ context.Context, o, f File, _ Room, _ types.TransactWriteItem) error {
			tries++
			if tries == 1 {
				return filedata.ErrChanged
			}
			saved = f
			return nil
		},
	}
	e := &fakeEraser{}
	if _, err := call(testAPI(d, e, &fakeJobs{}).upsertFile, "PUT", "/v1/files", map[string]any{"key": "a", "size": 5}, auth.Principal{}, nil); err != nil {
		t.Fatal(err)
	}
	if saved.ID != "file_1" || saved.Gen != 4 || saved.CreatedAt != old.CreatedAt || saved.Status != filedata.UploadPending || tries != 2 {
		t.Fatalf("replaced %+v after %d tries", saved, tries)
	}
	if len(e.kicks) != 1 || e.kicks[0] != "file:file_1@3" {
		t.Fatalf("intents %v kicks %v", e.intents, e.kicks)
	}

	// An integration may not take over the bot's file by its key.
	integration := auth.Principal{BotID: "bot_1", WorkspaceID: "ws_1", IntegrationID: "int_1", IntegrationName: "slack"}
	d.replaceFile = func(context.Context, File, File, Room, types.TransactWriteItem) error {
		t.Fatal("replaced")
		return nil
	}
	if _, err := call(testAPI(d, e, &fakeJobs{}).upsertFile, "PUT", "/v1/files", map[string]any{"key": "a", "size": 5}, integration, nil); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("integration over the bot's file: %v", err)
	}
}

func TestIntegrationsSeeOnlyWhatTheyMay(t *testing.T) {
	private := File{ID: "file_01JABCDEF0123456789ABCDEFG", BotID: "bot_1", Key: "p", Owner: Owner{Type: "bot", ID: "bot_1"}}
	shared := private
	shared.AccessPolicies = []string{filedata.PolicyIntegrations}
	integration := auth.Principal{BotID: "bot_1", WorkspaceID: "ws_1", IntegrationID: "int_1", IntegrationName: "slack"}
	for _, c := range []struct {
		f    File
		want error
	}{{private, apperr.NotFound("file", "x")}, {shared, nil}} {
		d := &fakeData{file: func(context.Context, string, string) (File, error) { return c.f, nil }}
		_, err := call(testAPI(d, &fakeEraser{}, &fakeJobs{}).getFile, "GET", "/v1/files/x", nil, integration, map[string]string{"id": c.f.ID})
		if (err == nil) != (c.want == nil) {
			t.Fatalf("policies %v: %v", c.f.AccessPolicies, err)
		}
		// Reading is not changing: an integration deletes only its own files.
		d.deleteFile = func(context.Context, File, types.TransactWriteItem) error { t.Fatal("deleted"); return nil }
		_, err = call(testAPI(d, &fakeEraser{}, &fakeJobs{}).deleteFile, "DELETE", "/v1/files/x", nil, integration, map[string]string{"id": c.f.ID})
		if err == nil {
			t.Fatal("an integration deleted the bot's file")
		}
	}
}

func TestDeleteRecordsTheErasure(t *testing.T) {
	f := File{ID: "file_01JABCDEF0123456789ABCDEFG", BotID: "bot_1", Key: "k", Gen: 2, Owner: Owner{Type: "bot"}}
	var deleted File
	d := &fakeData{
		file:       func(context.Context, string, string) (File, error) { return f, nil },
		deleteFile: func(_ context.Context, fl File, _ types.TransactWriteItem) error { deleted = fl; return nil },
	}
	e := &fakeEraser{}
	if _, err := call(testAPI(d, e, &fakeJobs{}).deleteFile, "DELETE", "/v1/files/"+f.ID, nil, auth.Principal{}, map[string]string{"id": f.ID}); err != nil {
		t.Fatal(err)
	}
	if deleted.ID != f.ID || len(e.intents) != 1 || e.intents[0] != "file:"+f.ID || len(e.kicks) != 1 {
		t.Fatalf("deleted %v, intents %v, kicks %v", deleted.ID, e.intents, e.kicks)
	}
}

func TestUpdateRetagsIndexedFiles(t *testing.T) {
	f := File{ID: "file_01JABCDEF0123456789ABCDEFG", BotID: "bot_1", Key: "k", Index: true, Owner: Owner{Type: "bot"}, Tags: map[string]string{"a": "1"}}
	var got MetadataUpdate
	d := &fakeData{
		file:         func(context.Context, string, string) (File, error) { return f, nil },
		updateFileMD: func(_ context.Context, _, _ string, up MetadataUpdate) (File, error) { got = up; return f, nil },
	}
	j := &fakeJobs{}
	_, err := call(testAPI(d, &fakeEraser{}, j).updateFileMetadata, "PUT", "/v1/files/x", map[string]any{"tags": map[string]any{"a": nil, "b": "2"}}, auth.Principal{}, map[string]string{"id": f.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got.Tags["a"] != nil || *got.Tags["b"] != "2" || got.SetPolicies || len(j.retagged) != 1 {
		t.Fatalf("update %+v, retagged %v", got, j.retagged)
	}
	_, err = call(testAPI(d, &fakeEraser{}, j).updateFileMetadata, "PUT", "/v1/files/x", map[string]any{"accessPolicies": []string{"nope"}}, auth.Principal{}, map[string]string{"id": f.ID})
	if !apperr.Is(err, apperr.InvalidPayload) {
		t.Fatalf("bad policy: %v", err)
	}
}

func TestSearchKeepsOnlyLivePassages(t *testing.T) {
	ctx := context.Background()
	idx := search.NewMemory()
	emb := search.Local{Dim: 64}
	texts := []string{"refunds are paid within fourteen days", "refunds for digital goods", "refunds policy of the old version"}
	vecs, _ := emb.Embed(ctx, texts)
	// file_a generation 2 is live; file_b was replaced (gen 1 is stale);
	// file_c is another bot's (filtered by the vector query itself).
	_ = idx.Put(ctx, []search.Vector{
		{Key: filedata.VectorKey("file_a", 2, 0), Data: vecs[0], Meta: map[string]any{"bot": "bot_1"}},
		{Key: filedata.VectorKey("file_b", 1, 0), Data: vecs[2], Meta: map[string]any{"bot": "bot_1"}},
		{Key: filedata.VectorKey("file_c", 1, 0), Data: vecs[1], Meta: map[string]any{"bot": "bot_2"}},
	})
	d := &fakeData{read: func(_ context.Context, bot string, files []string, refs []PassageRef) (map[string]File, map[PassageRef]Passage, error) {
		if bot != "bot_1" || len(refs) != 2*3 {
			t.Fatalf("read %s %v", bot, refs)
		}
		fs := map[string]File{
			"file_a": {ID: "file_a", Gen: 2, Status: filedata.IndexingCompleted, Key: "a.txt"},
			"file_b": {ID: "file_b", Gen: 2, Status: filedata.IndexingPending, Key: "b.txt"},
		}
		ps := map[PassageRef]Passage{
			{FileID: "file_a", Gen: 2, Pos: 0}: {Content: texts[0], Subtype: "paragraph", Gen: 2, FileID: "file_a"},
			{FileID: "file_a", Gen: 2, Pos: 1}: {Content: "next", Subtype: "paragraph", Position: 1, Gen: 2, FileID: "file_a"},
			{FileID: "file_b", Gen: 1, Pos: 0}: {Content: texts[2], Gen: 1, FileID: "file_b"},
		}
		return fs, ps, nil
	}}
	a := testAPI(d, &fakeEraser{}, &fakeJobs{})
	a.d.Embed, a.d.Index = emb, idx
	res, err := call(a.searchFiles, "GET", "/v1/files/search?query=refunds&contextDepth=1", nil, auth.Principal{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ps := res.Body.(map[string]any)["passages"].([]passageAnswer)
	if len(ps) != 1 || ps[0].File.ID != "file_a" || ps[0].Content != texts[0]+"\n\nnext" || ps[0].Meta.Type != "chunk" {
		t.Fatalf("passages %+v", ps)
	}
	for _, bad := range []string{"?limit=2", "?query=q&limit=0", "?query=q&limit=51", "?query=q&contextDepth=11", "?query=q&contextDepth=-1"} {
		if _, err := call(a.searchFiles, "GET", "/v1/files/search"+bad, nil, auth.Principal{}, nil); !apperr.Is(err, apperr.InvalidQuery) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestPublicContentRedirects(t *testing.T) {
	f := File{ID: "file_01JABCDEF0123456789ABCDEFG", BotID: "bot_01JABCDEF0123456789ABCDEFG", Key: "a.html", Gen: 1, Status: filedata.UploadCompleted}
	d := &fakeData{file: func(context.Context, string, string) (File, error) { return f, nil }}
	a := testAPI(d, &fakeEraser{}, &fakeJobs{})
	pv := map[string]string{"botId": f.BotID, "id": f.ID}
	if _, err := call(a.publicContent, "GET", "/", nil, auth.Principal{}, pv); !apperr.Is(err, apperr.ResourceNotFound) {
		t.Fatalf("private: %v", err)
	}
	f.AccessPolicies = []string{filedata.PolicyPublicContent}
	res, err := call(a.publicContent, "GET", "/", nil, auth.Principal{}, pv)
	if err != nil || res.Status != http.StatusFound {
		t.Fatalf("public: %v %v", res, err)
	}
	loc, _ := url.Parse(res.Header.Get("Location"))
	if loc.Query().Get("X-Amz-Expires") != "300" {
		t.Fatalf("redirect %s", loc)
	}
	f.Status = filedata.UploadPending
	if _, err := call(a.publicContent, "GET", "/", nil, auth.Principal{}, pv); !apperr.Is(err, apperr.ResourceNotFound) {
		t.Fatalf("not uploaded yet: %v", err)
	}
}
