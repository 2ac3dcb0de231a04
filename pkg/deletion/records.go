package deletion

import (
	"context"
	"time"

	"github.com/parley-dev/parley/pkg/admin"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/chat"
	"github.com/parley-dev/parley/pkg/clock"
)

// StoreRecords reads bots from the admin store and users from the chat store.
type StoreRecords struct {
	Admin *admin.Store
	Chat  *chat.Store
}

var _ Records = StoreRecords{}

// BotWorkspace implements Records.
func (r StoreRecords) BotWorkspace(ctx context.Context, botID string) (string, error) {
	return r.Admin.BotWorkspace(ctx, botID)
}

// Created implements Records: the bot's creation, and the user's when the
// user still exists.
func (r StoreRecords) Created(ctx context.Context, botID, userID string) (time.Time, time.Time, error) {
	created, err := r.Admin.BotCreated(ctx, botID)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	var user time.Time
	u, err := r.Chat.User(ctx, botID, userID)
	switch {
	case err == nil:
		user, _ = clock.Parse(u.CreatedAt)
	case !apperr.Is(err, apperr.ResourceNotFound):
		return time.Time{}, time.Time{}, err
	}
	return created, user, nil
}
