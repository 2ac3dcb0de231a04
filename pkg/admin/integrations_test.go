package admin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
)

func TestIntegrationsAndHub(t *testing.T) {
	env := testenv.Stack(t)
	owner, other := newAccount(t, env), newAccount(t, env)
	ws, otherWS := createWorkspace(t, env, owner, "Maker"), createWorkspace(t, env, other, "User")
	h, oh := map[string]string{"x-workspace-id": ws}, map[string]string{"x-workspace-id": otherWS}
	name := "acme-" + strings.ToLower(id.New("n")[2:12])
	def := func(version string, public bool) map[string]any {
		return map[string]any{
			"name": name, "version": version, "title": "Acme", "description": "d", "public": public,
			"secrets":       map[string]any{"API_KEY": "s3cr3t-value"},
			"actions":       map[string]any{"ping": map[string]any{"input": map[string]any{"schema": map[string]any{}}, "output": map[string]any{"schema": map[string]any{}}}},
			"channels":      map[string]any{"chat": map[string]any{"messages": map[string]any{"text": map[string]any{"schema": map[string]any{}}}}},
			"configuration": map[string]any{"schema": map[string]any{"type": "object"}},
		}
	}
	created := env.Do(t, R{Method: "POST", Path: "/v1/admin/integrations", Token: owner, Headers: h, Body: def("0.1.0", false)})
	want(t, created, 200, "")
	wantCalls(t, created, 2, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1")
	in := created.Body["integration"].(map[string]any)
	privID := in["id"].(string)
	if s := in["secrets"].([]any); len(s) != 1 || s[0] != "API_KEY" || strings.Contains(string(created.Raw), "s3cr3t") {
		t.Fatalf("secrets answered %s", created.Raw)
	}
	item, _ := env.Deps.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(env.Deps.Config.Table(topology.AdminTable)), Key: ds.Key("INT#"+privID, "INT")})
	sealed, _ := item.Item["sealedSecrets"].(*types.AttributeValueMemberM)
	if sealed == nil || ds.String(sealed.Value, "API_KEY") == "" || strings.Contains(ds.String(sealed.Value, "API_KEY"), "s3cr3t") {
		t.Fatalf("secret stored in clear or missing: %v", item.Item["sealedSecrets"])
	}
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/integrations", Token: owner, Headers: h, Body: def("0.1.0", false)}), 409, "AlreadyExists")
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/integrations", Token: other, Headers: oh, Body: def("9.0.0", false)}), 409, "AlreadyExists")
	pub := env.Do(t, R{Method: "POST", Path: "/v1/admin/integrations", Token: owner, Headers: h, Body: def("0.10.0", true)})
	want(t, pub, 200, "")
	pubID := pub.Body["integration"].(map[string]any)["id"].(string)
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/integrations", Token: owner, Headers: h, Body: def("0.9.0", false)}), 200, "")

	// latest is the highest semver (0.10.0 > 0.9.0), not the newest.
	latest := env.Do(t, R{Method: "GET", Path: "/v1/admin/integrations/" + name + "/latest", Token: owner, Headers: h})
	want(t, latest, 200, "")
	wantCalls(t, latest, 2, "DynamoDB.Query=1")
	if v := latest.Body["integration"].(map[string]any)["version"]; v != "0.10.0" {
		t.Fatalf("latest is %v", v)
	}
	got := env.Do(t, R{Method: "GET", Path: "/v1/admin/integrations/" + privID, Token: owner, Headers: h})
	want(t, got, 200, "")
	wantCalls(t, got, 2, "DynamoDB.GetItem=1")
	list := env.Do(t, R{Method: "GET", Path: "/v1/admin/integrations?version=0.1.0", Token: owner, Headers: h})
	want(t, list, 200, "")
	wantCalls(t, list, 2, "DynamoDB.Query=1")
	if l := list.Body["integrations"].([]any); len(l) != 1 || l[0].(map[string]any)["id"] != privID {
		t.Fatalf("filtered list %s", list.Raw)
	}

	upd := env.Do(t, R{Method: "PUT", Path: "/v1/admin/integrations/" + privID, Token: owner, Headers: h, Body: map[string]any{"title": "Acme 2", "secrets": map[string]any{"API_KEY": nil, "OTHER": "x"}}})
	want(t, upd, 200, "")
	wantCalls(t, upd, 2, "DynamoDB.BatchGetItem=1,DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1")
	if u := upd.Body["integration"].(map[string]any); u["title"] != "Acme 2" || u["secrets"].([]any)[0] != "OTHER" {
		t.Fatalf("update %s", upd.Raw)
	}
	want(t, env.Do(t, R{Method: "PUT", Path: "/v1/admin/integrations/" + pubID, Token: owner, Headers: h, Body: map[string]any{"title": "changed"}}), 400, "BreakingChanges")
	want(t, env.Do(t, R{Method: "PUT", Path: "/v1/admin/integrations/" + privID, Token: owner, Headers: h, Body: map[string]any{"version": "1.0.0"}}), 400, "InvalidPayload")
	for _, body := range []map[string]any{{"name": "Bad Name", "version": "1.0.0"}, {"name": "ok", "version": "one"}, {"name": "ok", "version": "1.0.0", "states": map[string]any{"s": map[string]any{"type": "bot", "schema": map[string]any{}}}}} {
		want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/integrations", Token: owner, Headers: h, Body: body}), 400, "InvalidPayload")
	}

	// Hub: the public version, for any account.
	hub := env.Do(t, R{Method: "GET", Path: "/v1/admin/hub/integrations?name=" + name, Token: other})
	want(t, hub, 200, "")
	wantCalls(t, hub, 1, "DynamoDB.Query=1")
	if l := hub.Body["integrations"].([]any); len(l) != 1 || l[0].(map[string]any)["ownerWorkspace"].(map[string]any)["name"] != "Maker" {
		t.Fatalf("hub %s", hub.Raw)
	}
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/hub/integrations/" + pubID, Token: other}), 200, "")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/hub/integrations/" + privID, Token: other}), 404, "ResourceNotFound")
	if v := env.Do(t, R{Method: "GET", Path: "/v1/admin/hub/integrations/" + name + "/latest", Token: other}).Body["integration"].(map[string]any)["version"]; v != "0.10.0" {
		t.Fatalf("hub latest %v", v)
	}

	// Tenancy: the private version is missing for the other workspace; the
	// public one can be installed there.
	for _, r := range []R{
		{Method: "GET", Path: "/v1/admin/integrations/" + privID}, {Method: "PUT", Path: "/v1/admin/integrations/" + privID, Body: map[string]any{"title": "x"}},
		{Method: "DELETE", Path: "/v1/admin/integrations/" + privID}, {Method: "GET", Path: "/v1/admin/integrations/" + privID + "/logs?timeStart=2020-01-01"},
		{Method: "GET", Path: "/v1/admin/integrations/" + name + "/0.1.0"},
	} {
		r.Token, r.Headers = other, oh
		want(t, env.Do(t, r), 404, "ResourceNotFound")
	}
	bot := createBot(t, env, other, otherWS, map[string]any{})["id"].(string)
	inst := env.Do(t, R{Method: "PUT", Path: "/v1/admin/bots/" + bot, Token: other, Headers: oh, Body: map[string]any{"integrations": map[string]any{pubID: map[string]any{"enabled": true, "configuration": map[string]any{"k": "v"}}}}})
	want(t, inst, 200, "")
	bi := inst.Body["bot"].(map[string]any)["integrations"].(map[string]any)[pubID].(map[string]any)
	if bi["name"] != name || bi["version"] != "0.10.0" || bi["configuration"].(map[string]any)["k"] != "v" || bi["status"] != "registered" {
		t.Fatalf("installed %v", bi)
	}
	want(t, env.Do(t, R{Method: "PUT", Path: "/v1/admin/bots/" + bot, Token: other, Headers: oh, Body: map[string]any{"integrations": map[string]any{privID: map[string]any{}}}}), 400, "ReferenceNotFound")
	un := env.Do(t, R{Method: "PUT", Path: "/v1/admin/bots/" + bot, Token: other, Headers: oh, Body: map[string]any{"integrations": map[string]any{pubID: nil}}})
	if len(un.Body["bot"].(map[string]any)["integrations"].(map[string]any)) != 0 {
		t.Fatalf("uninstall %s", un.Raw)
	}

	want(t, env.Do(t, R{Method: "DELETE", Path: "/v1/admin/integrations/" + pubID, Token: owner, Headers: h}), 409, "ReferenceConstraint")
	del := env.Do(t, R{Method: "DELETE", Path: "/v1/admin/integrations/" + privID, Token: owner, Headers: h})
	want(t, del, 200, "")
	wantCalls(t, del, 2, "DynamoDB.GetItem=2,DynamoDB.TransactWriteItems=1")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/integrations/" + privID, Token: owner, Headers: h}), 404, "ResourceNotFound")
	// The version is free again.
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/integrations", Token: owner, Headers: h, Body: def("0.1.0", false)}), 200, "")
	logs := env.Do(t, R{Method: "GET", Path: "/v1/admin/integrations/" + pubID + "/logs?timeStart=2020-01-01", Token: owner, Headers: h})
	want(t, logs, 200, "")
	wantCalls(t, logs, 2, "DynamoDB.GetItem=1,DynamoDB.Query=1")
}
