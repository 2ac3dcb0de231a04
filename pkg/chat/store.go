package chat

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/chatdata"
)

// The records of the chat API are the chat table's (pkg/chatdata owns its
// layout); the chat API only reaches them through the interfaces below,
// which *chatdata.Store implements (checked in pkg/app).
type (
	User               = chatdata.User
	Conversation       = chatdata.Conversation
	Message            = chatdata.Message
	Event              = chatdata.Event
	State              = chatdata.State
	StateRef           = chatdata.StateRef
	UserFilter         = chatdata.UserFilter
	UserUpdate         = chatdata.UserUpdate
	ConversationFilter = chatdata.ConversationFilter
	ConversationUpdate = chatdata.ConversationUpdate
	MessageFilter      = chatdata.MessageFilter
	EventFilter        = chatdata.EventFilter
)

// Message directions and event statuses, as stored.
const (
	Incoming = chatdata.Incoming
	Outgoing = chatdata.Outgoing

	StatusScheduled = chatdata.StatusScheduled
	StatusPending   = chatdata.StatusPending
	StatusProcessed = chatdata.StatusProcessed
	StatusIgnored   = chatdata.StatusIgnored
	StatusFailed    = chatdata.StatusFailed
	StatusCanceled  = chatdata.StatusCanceled

	// MaxStatePayload bounds a state's payload (its JSON size).
	MaxStatePayload = chatdata.MaxStatePayload
)

// StateTypes are the kinds of owner a state can have.
var StateTypes = chatdata.StateTypes

// Users stores a bot's chat users.
type Users interface {
	CreateUser(ctx context.Context, bot string, u User, integration string, at time.Time) error
	User(ctx context.Context, bot, id string) (User, error)
	GetOrCreateUser(ctx context.Context, bot string, discriminator map[string]string, u User, integration string, at time.Time) (User, bool, error)
	UpdateUser(ctx context.Context, bot, id string, up UserUpdate) (User, error)
	DeleteUser(ctx context.Context, bot, id string) error
	ListUsers(ctx context.Context, bot string, f UserFilter, token string) ([]User, string, error)
}

// Conversations stores a bot's conversations and their participants.
type Conversations interface {
	CreateConversation(ctx context.Context, bot string, c Conversation) error
	Conversation(ctx context.Context, bot, conv string) (Conversation, error)
	GetOrCreateConversation(ctx context.Context, bot string, discriminator map[string]string, c Conversation) (Conversation, bool, error)
	UpdateConversation(ctx context.Context, bot, conv string, up ConversationUpdate) (Conversation, error)
	// DeleteConversation removes the conversation from every read at once,
	// in one transaction that also writes intent (the erasure of its
	// contents, left to the lifecycle worker).
	DeleteConversation(ctx context.Context, bot, conv string, intent types.TransactWriteItem) error
	ListConversations(ctx context.Context, bot string, f ConversationFilter, token string) ([]Conversation, string, error)
	ListConversationsOf(ctx context.Context, bot string, participants []string, f ConversationFilter, token string) ([]Conversation, string, error)
	AddParticipant(ctx context.Context, bot, conv, user, at string) (User, error)
	Participant(ctx context.Context, bot, conv, user string) (User, error)
	RemoveParticipant(ctx context.Context, bot, conv, user string) error
	ListParticipants(ctx context.Context, bot, conv, token string) ([]User, string, error)
}

// Messages stores conversations' messages.
type Messages interface {
	CreateMessage(ctx context.Context, bot string, m Message, at time.Time) error
	GetOrCreateMessage(ctx context.Context, bot string, discriminator map[string]string, m Message, at time.Time) (Message, bool, error)
	Message(ctx context.Context, bot, msg string) (Message, error)
	UpdateMessage(ctx context.Context, bot, msg string, tags map[string]string, payload map[string]any, at string, check func(typ string, payload map[string]any) error) (Message, error)
	DeleteMessage(ctx context.Context, bot, msg string) error
	ListMessages(ctx context.Context, bot string, f MessageFilter, token string) ([]Message, string, error)
	// CheckReferences checks that a conversation and a user exist.
	CheckReferences(ctx context.Context, bot, conv, user string) error
}

// Events stores a bot's events.
type Events interface {
	CreateEvent(ctx context.Context, bot string, e Event, workflowID string, at time.Time) error
	Event(ctx context.Context, bot, evt string) (Event, error)
	CancelScheduledEvent(ctx context.Context, bot, evt string) error
	ListEvents(ctx context.Context, bot string, f EventFilter, token string) ([]Event, string, error)
}

// States stores named payloads.
type States interface {
	State(ctx context.Context, r StateRef, now time.Time) (State, error)
	SetState(ctx context.Context, r StateRef, payload map[string]any, expiryMs int64, now time.Time) (State, error)
	DeleteState(ctx context.Context, r StateRef, now time.Time) (State, error)
	GetOrSetState(ctx context.Context, r StateRef, payload map[string]any, expiryMs int64, now time.Time) (State, error)
	PatchState(ctx context.Context, r StateRef, payload map[string]any, now time.Time) (State, error)
	SetStateExpiry(ctx context.Context, r StateRef, expiryMs int64, now time.Time) (State, error)
}

// Data is everything the chat API keeps.
type Data interface {
	Users
	Conversations
	Messages
	Events
	States
}

// Deliveries is what the delivery worker reads and writes: events by the
// reference their job carries, and scheduled messages.
type Deliveries interface {
	EventAt(ctx context.Context, ref chatdata.EventRef) (Event, bool, error)
	SetEventStatus(ctx context.Context, ref chatdata.EventRef, from, to, reason string) (bool, error)
	// SettleDelivery is SetEventStatus for a delivery's outcome, metering
	// the invocation in the same transaction.
	SettleDelivery(ctx context.Context, bot string, ref chatdata.EventRef, from, to, reason string, at time.Time) (bool, error)
	CreateMessage(ctx context.Context, bot string, m Message, at time.Time) error
	CreateEvent(ctx context.Context, bot string, e Event, workflowID string, at time.Time) error
	// What a delivery carries beyond the job: a message_created event's
	// message, user and conversation; an outgoing message's conversation
	// (its integration) and author.
	Message(ctx context.Context, bot, msg string) (Message, error)
	Conversation(ctx context.Context, bot, conv string) (Conversation, error)
	User(ctx context.Context, bot, id string) (User, error)
}

// Bots reads the bot record (url, signing secret, configuration, installed
// integrations) requests to bots' and integrations' servers are made
// with, and the url of an integration whose installations have none.
type Bots interface {
	BotRecord(ctx context.Context, bot string) (auth.BotRecord, error)
	IntegrationURL(ctx context.Context, integrationID string) (string, error)
}

// Eraser is the lifecycle's side of deleting: the transaction item that
// records an erasure intent (written with the deletion), and the kick that
// asks the lifecycle worker to act on it now rather than in the next
// off-peak window.
type Eraser interface {
	EraseIntent(bot, kind, id string, at time.Time) types.TransactWriteItem
	Kick(ctx context.Context, bot, kind, id string) error
}
