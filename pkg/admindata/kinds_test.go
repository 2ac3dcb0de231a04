package admindata_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/cursor"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var (
	_ lifecycle.Kind = (*admindata.TableKind)(nil)
	_ lifecycle.Kind = (*admindata.CodeKind)(nil)
)

type R = testenv.Req

// seedBot creates a bot with code and an inline media through the API,
// then gives it logs, issues with events (one issue deleted, its events
// left), API keys and usage counters through the store.
func seedBot(t *testing.T, env *testenv.Env, store *admindata.Store, token, ws, name string) string {
	t.Helper()
	res := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: token, Headers: map[string]string{"x-workspace-id": ws}, Body: map[string]any{
		"name": name, "code": "export default {}", "medias": []any{map[string]any{"name": "logo", "url": "data:image/png;base64,aGVsbG8="}},
	}})
	testenv.Want(t, res, 200, "")
	bot := res.Body["bot"].(map[string]any)["id"].(string)
	ctx := t.Context()
	base := time.Now().Add(-time.Hour)
	for i := range 30 {
		at := base.Add(time.Duration(i) * time.Second)
		if err := store.AppendBotLog(ctx, bot, admindata.LogRecord{Timestamp: at.UTC().Format(time.RFC3339Nano), Level: "info", Message: "m"}); err != nil {
			t.Fatal(err)
		}
		code := []string{"timeout", "refused", "gone"}[i%3]
		if err := store.RecordIssue(ctx, admindata.IssueReport{BotID: bot, Code: code, Title: code, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.DeleteIssue(ctx, bot, admindata.IssueID("gone"), audit.New(ws, "", audit.DeleteBotIssue, bot, name, base)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		k := admindata.BotAPIKey{ID: bot + "-key" + string(rune('a'+i)), CreatedAt: "2026-05-01T00:00:00.000Z", BotID: bot, WorkspaceID: ws, Sealed: "x"}
		if err := store.CreateBotAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	for _, period := range []string{"2026-04", "2026-05"} {
		if err := store.AddUsage(ctx, bot, admindata.UsageInvocations, period, 3); err != nil {
			t.Fatal(err)
		}
	}
	return bot
}

// leftOf counts what the admin table (a whole scan: a test may) and the code
// bucket hold of a bot, besides its own record and the audit trail.
func leftOf(t *testing.T, env *testenv.Env, bot string) (items, objects int) {
	t.Helper()
	d := env.Deps
	pages := dynamodb.NewScanPaginator(dynamodb.NewFromConfig(env.AWS), &dynamodb.ScanInput{TableName: aws.String(d.Config.Table(topology.AdminTable)), ConsistentRead: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			pk, sk := ds.String(it, ds.PK), ds.String(it, ds.SK)
			if (pk == "BOT#"+bot && sk == "BOT") || strings.HasPrefix(sk, "AUDIT#") {
				continue
			}
			var m map[string]any
			if err := attributevalue.UnmarshalMap(it, &m); err != nil {
				t.Fatal(err)
			}
			for _, v := range m {
				if s, ok := v.(string); ok && strings.Contains(s, bot) {
					items++
					break
				}
			}
		}
	}
	list, err := d.S3.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(env.Env[topology.EnvVar("bucket", topology.BotCodeBucket)]), Prefix: aws.String("bots/" + bot + "/")})
	if err != nil {
		t.Fatal(err)
	}
	return items, len(list.Contents)
}

func TestPurgeEveryAdminKind(t *testing.T) {
	env := testenv.Stack(t)
	d := env.Deps
	table := d.Config.Table(topology.AdminTable)
	store := admindata.NewStore(d.DB, table, cursor.New(d.Config.SigningKey))
	token := env.NewAccount(t)
	res := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: token, Body: map[string]any{"name": "kinds"}})
	testenv.Want(t, res, 200, "")
	ws := res.Body["id"].(string)
	doomed, kept := seedBot(t, env, store, token, ws, "doomed"), seedBot(t, env, store, token, ws, "kept")

	keptItems, keptObjects := leftOf(t, env, kept)
	if items, objects := leftOf(t, env, doomed); items < 30+2+3+2 || objects != 2 || items != keptItems || objects != keptObjects {
		t.Fatalf("seeded %d items and %d objects (the other bot %d, %d)", items, objects, keptItems, keptObjects)
	}

	kinds := []lifecycle.Kind{admindata.NewIssueKind(d.DB, table), admindata.NewLogKind(d.DB, table), admindata.NewAPIKeyKind(d.DB, table),
		admindata.NewUsageKind(d.DB, table), admindata.NewCodeKind(d.S3, env.Env[topology.EnvVar("bucket", topology.BotCodeBucket)])}
	names := map[string]bool{}
	for _, k := range kinds {
		names[k.Name()] = true
		for calls := 0; ; calls++ {
			if calls > 20 {
				t.Fatalf("%s: still more after %d calls", k.Name(), calls)
			}
			more, err := k.Purge(context.Background(), doomed, 7) // small steps: several calls each
			if err != nil {
				t.Fatalf("%s: %v", k.Name(), err)
			}
			if !more {
				break
			}
		}
	}
	if len(names) != len(kinds) {
		t.Fatalf("kind names are not unique: %v", names)
	}
	if items, objects := leftOf(t, env, doomed); items != 0 || objects != 0 {
		t.Fatalf("the purged bot keeps %d items and %d objects", items, objects)
	}
	if items, objects := leftOf(t, env, kept); items != keptItems || objects != keptObjects {
		t.Fatalf("the other bot went from %d items and %d objects to %d and %d", keptItems, keptObjects, items, objects)
	}
	// A purge of what is gone is a no-op.
	for _, k := range kinds {
		if more, err := k.Purge(t.Context(), doomed, 7); more || err != nil {
			t.Fatalf("%s again: %v %v", k.Name(), more, err)
		}
	}
}
