package chat

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/parley-dev/parley/pkg/auth"
)

// queueFunc is a fake queue.
type queueFunc func(in *sqs.SendMessageInput) error

func (f queueFunc) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{}, f(in)
}

func TestIntegrationHeadersCarryTheInstallation(t *testing.T) {
	in := auth.Integration{ID: "intver_1", Name: "echo", Alias: "shop", WebhookID: "wh_1", ConfigurationType: "oauth",
		Configuration: map[string]any{"account": "42"}}
	h := integrationHeaders("bot_1", in, OpActionTriggered, "shout")
	for k, want := range map[string]string{
		HeaderBotID: "bot_1", HeaderBotUserID: "bot_1", HeaderIntegrationID: "intver_1", HeaderIntegrationAlias: "shop",
		HeaderWebhookID: "wh_1", HeaderOperation: "action_triggered", HeaderType: "shout", HeaderConfigurationType: "oauth",
	} {
		if h[k] != want {
			t.Errorf("%s = %q, want %q", k, h[k], want)
		}
	}
	raw, err := base64.StdEncoding.DecodeString(h[HeaderConfiguration])
	if err != nil || string(raw) != `{"account":"42"}` {
		t.Errorf("configuration header decodes to %s (%v)", raw, err)
	}
	if b := botHeaders("bot_1", auth.BotRecord{}, OpEventReceived, "custom"); b[HeaderConfiguration] != base64.StdEncoding.EncodeToString([]byte("{}")) {
		t.Errorf("a bot without configuration sends %q, want base64 of {}", b[HeaderConfiguration])
	}
}

func TestBotChangedAnnouncesRegisterAndUnregister(t *testing.T) {
	var got []string
	q := queueFunc(func(in *sqs.SendMessageInput) error {
		var j job
		if err := json.Unmarshal([]byte(*in.MessageBody), &j); err != nil {
			t.Fatal(err)
		}
		who := "bot"
		if j.Installation != nil {
			who = j.Installation.Alias + " " + j.WebhookURL
		}
		got = append(got, strings.Join(j.Ops, "+")+" "+who)
		return nil
	})
	an := NewAnnouncer(NewDispatcher(q, "url"))
	before := auth.BotRecord{URL: "http://old", Integrations: map[string]auth.Integration{
		"gone": {ID: "i1", Enabled: true, WebhookID: "wh_a"}, "kept": {ID: "i2", Enabled: true, WebhookID: "wh_b"},
		"off": {ID: "i3", Enabled: true, WebhookID: "wh_c"},
	}}
	after := auth.BotRecord{URL: "http://new", Integrations: map[string]auth.Integration{
		"kept": {ID: "i2", Enabled: true, WebhookID: "wh_b"}, "off": {ID: "i3", Enabled: false, WebhookID: "wh_c"},
		"new": {ID: "i4", Enabled: true, WebhookID: "wh_d"},
	}}
	if err := an.BotChanged(context.Background(), "bot_1", before, after, "https://api.example/", time.Now()); err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	want := []string{
		"ping+register bot",
		"register new https://api.example/v1/webhooks/wh_d",
		"unregister gone https://api.example/v1/webhooks/wh_a",
		"unregister off https://api.example/v1/webhooks/wh_c",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("announced\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
