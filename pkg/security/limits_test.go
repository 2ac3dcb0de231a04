package security

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/testenv"
)

// Fault 4 and invalid UTF-8: items DynamoDB refuses answered 500 after
// retries, and invalid UTF-8 was stored as U+FFFD. They are now refused
// before any write: 413 for size, 400 for depth and encoding.
func TestItemLimitsAndEncoding(t *testing.T) {
	env := testenv.Stack(t)
	w := &world{env: env}
	_, _, tok := account(t, env)
	ws := w.must(t, "POST", "/v1/admin/workspaces", tok, nil, map[string]any{"name": "L"})["id"].(string)
	bot := w.must(t, "POST", "/v1/admin/bots", tok, map[string]string{"x-workspace-id": ws}, map[string]any{"name": "b"})["bot"].(map[string]any)["id"].(string)
	h := map[string]string{"x-bot-id": bot}
	user := w.must(t, "POST", "/v1/chat/users", tok, h, map[string]any{"tags": map[string]string{}})["user"].(map[string]any)["id"].(string)
	conv := w.must(t, "POST", "/v1/chat/conversations", tok, h, map[string]any{"channel": "web", "tags": map[string]string{}})["conversation"].(map[string]any)["id"].(string)
	before := snapshot(t, env)

	tags := map[string]string{}
	for i := 0; i < 5000; i++ {
		tags[fmt.Sprintf("tag%04d", i)] = strings.Repeat("v", 100)
	}
	testenv.Want(t, w.do(t, "POST", "/v1/chat/users", tok, h, map[string]any{"tags": tags}), 413, "PayloadTooLarge")
	testenv.Want(t, w.do(t, "PUT", "/v1/chat/conversations/"+conv, tok, h, map[string]any{"tags": tags}), 413, "PayloadTooLarge")
	testenv.Want(t, w.do(t, "POST", "/v1/chat/messages", tok, h, map[string]any{"conversationId": conv, "userId": user, "type": "text",
		"payload": map[string]any{"text": strings.Repeat("x", 700*1024)}, "tags": map[string]string{}}), 413, "PayloadTooLarge")
	deep := strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)
	testenv.Want(t, w.do(t, "POST", "/v1/chat/events", tok, h, `{"type":"custom","conversationId":"`+conv+`","payload":`+deep+`}`), 400, "InvalidPayload")
	testenv.Want(t, w.do(t, "POST", "/v1/chat/users", tok, h, "{\"tags\":{\"name\":\"\xff\xfe\"}}"), 400, "InvalidPayload")

	if d := diff(before, snapshot(t, env)); len(d) > 0 {
		t.Errorf("refused writes changed the tables: %v", d)
	}
}
