// Package id makes resource identifiers: a readable prefix and a ULID
// ("user_01JAB…", 31 characters), time-ordered so that sorting by id sorts
// by creation, within the 28 to 36 characters the Botpress API allows.
package id

import (
	"crypto/rand"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Prefixes of Parley's identifiers.
const (
	Account      = "acct"
	Workspace    = "wkspace"
	Bot          = "bot"
	User         = "user"
	PAT          = "pat"
	Conversation = "conv"
	Message      = "msg"
	Event        = "evt"
	Error        = "err"
)

// MinLen and MaxLen bound the ids of bots, users, conversations, messages,
// events and integrations in the Botpress API definition.
const (
	MinLen = 28
	MaxLen = 36
)

var (
	mu      sync.Mutex
	entropy = ulid.Monotonic(rand.Reader, 0)
)

// New returns a new identifier with the given prefix.
func New(prefix string) string { return NewAt(prefix, time.Now()) }

// NewAt returns a new identifier for a resource created at t, so that the
// id's order and the createdAt order agree.
func NewAt(prefix string, t time.Time) string { return prefix + "_" + ULID(t) }

// ULID returns a ULID for time t; within one millisecond successive values
// increase, so ids made in a row sort in creation order.
func ULID(t time.Time) string {
	mu.Lock()
	defer mu.Unlock()
	return ulid.MustNew(ulid.Timestamp(t), entropy).String()
}

// Valid reports whether s is acceptable as an identifier in a request:
// within the API's length bounds and made only of URL-safe characters.
func Valid(s string) bool {
	if len(s) < MinLen || len(s) > MaxLen {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	}) < 0
}

// Webhook returns the id of a new webhook of a bot installation: "wh_",
// the bot id's ULID, "_", a new ULID (56 characters; webhook ids are not
// bound by MaxLen). It names its bot, so a request to the webhook finds its
// installation with one read of the bot, and no lookup item needs keeping.
func Webhook(botID string, t time.Time) string {
	return "wh_" + strings.TrimPrefix(botID, Bot+"_") + "_" + ULID(t)
}

// WebhookBot returns the bot a webhook id names.
func WebhookBot(webhookID string) (string, bool) {
	rest, ok := strings.CutPrefix(webhookID, "wh_")
	if !ok {
		return "", false
	}
	botULID, hook, ok := strings.Cut(rest, "_")
	if !ok || len(botULID) != 26 || len(hook) != 26 {
		return "", false
	}
	return Bot + "_" + botULID, true
}
