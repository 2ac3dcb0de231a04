package compliance

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/lifecycle"
)

type restoreBody struct {
	BotID          string `json:"botId"`
	ConversationID string `json:"conversationId"`
}

// Restored is the answer of a restore.
type Restored struct {
	BotID          string         `json:"botId"`
	ConversationID string         `json:"conversationId"`
	ArchiveKey     string         `json:"archiveKey"`
	Restored       map[string]int `json:"restored"`
	RestoredAt     string         `json:"restoredAt"`
}

// restore brings an archived conversation back: the bot must be the
// workspace's (else 404), the conversation's id not live (else 409); the
// archive object (found by the month of the id's time, as retention names
// it) is streamed, gunzipped, into the chat table's owner, which writes
// the conversation last with the audit record in the same transaction.
func (a *API) restore(r *http.Request) (httpapi.Response, error) {
	var in restoreBody
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if strings.TrimSpace(in.BotID) == "" || strings.TrimSpace(in.ConversationID) == "" {
		return httpapi.Response{}, apperr.Invalid("send botId and conversationId")
	}
	ctx := r.Context()
	p := auth.FromContext(ctx)
	ws, err := a.Bots.BotWorkspace(ctx, in.BotID)
	if err != nil {
		return httpapi.Response{}, err
	}
	if ws != p.WorkspaceID {
		return httpapi.Response{}, apperr.NotFound("bot", in.BotID)
	}
	live, err := a.Conversations.ConversationLive(ctx, in.BotID, in.ConversationID)
	if err != nil {
		return httpapi.Response{}, err
	}
	if live {
		return httpapi.Response{}, apperr.New(apperr.AlreadyExists, "conversation %q is live: it is not restored over", in.ConversationID)
	}
	key, body, err := a.findArchive(r, ws, in.BotID, in.ConversationID)
	if err != nil {
		return httpapi.Response{}, err
	}
	defer body.Close()
	zr, err := gzip.NewReader(body)
	if err != nil {
		return httpapi.Response{}, apperr.New(apperr.InvalidDataFormat, "the archive %s is not gzip: %v", key, err)
	}
	rec := audit.New(ws, p.AccountID, audit.RestoreConversation, in.ConversationID, "conversation", a.Clock.Now())
	raw, _ := json.Marshal(map[string]string{"botId": in.BotID, "archiveKey": key})
	rec.Value = string(raw)
	got, err := a.Conversations.RestoreConversation(ctx, in.BotID, in.ConversationID, lifecycle.NewLineReader(zr), audit.With(a.Trail, rec))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(Restored{BotID: in.BotID, ConversationID: in.ConversationID, ArchiveKey: key, Restored: got, RestoredAt: rec.RecordedAt}), nil
}

// findArchive opens a conversation's archive: the month of its id's time
// first, then the months either side (its createdAt, which names the
// month, is within milliseconds of the id's time).
func (a *API) findArchive(r *http.Request, ws, bot, conv string) (string, io.ReadCloser, error) {
	at, ok := idTime(conv)
	if !ok {
		return "", nil, apperr.NotFound("archived conversation", conv)
	}
	for _, t := range []time.Time{at, at.AddDate(0, -1, 0), at.AddDate(0, 1, 0)} {
		key := lifecycle.ArchiveKey(ws, bot, conv, t)
		body, found, err := a.Archives.Open(r.Context(), key)
		if err != nil {
			return "", nil, err
		}
		if found {
			return key, body, nil
		}
	}
	return "", nil, apperr.NotFound("archived conversation", conv)
}

func idTime(v string) (time.Time, bool) {
	_, raw, _ := strings.Cut(v, "_")
	u, err := ulid.ParseStrict(raw)
	if err != nil {
		return time.Time{}, false
	}
	return ulid.Time(u.Time()).UTC(), true
}
