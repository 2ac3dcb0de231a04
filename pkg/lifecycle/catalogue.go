package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The data catalogue: every kind of data Parley keeps for a bot is a Kind,
// registered once (pkg/app's catalogue), and every lifecycle process walks
// the catalogue instead of knowing tables: bot purge erases every kind,
// deletion jobs and retention act on item kinds, data requests on user
// kinds. A kind is implemented by the package that owns its storage layout,
// so only that package builds its keys.

// Kind is one kind of data kept for a bot.
type Kind interface {
	// Name is the kind's name in work items, archives and receipts.
	Name() string
	// Purge erases up to max of a bot's items of this kind, with what lives
	// under them, their secondary entries and their S3 objects, and reports
	// whether any remain. It is idempotent: bot purge calls it until none
	// remain, and a redelivered work item calls it again.
	Purge(ctx context.Context, bot string, max int) (more bool, err error)
}

// Facts are what the lifecycle knows of one item when it decides on it.
type Facts struct {
	Found bool `json:"-"`
	// Held: a legal hold covers the item (today the legalHold=true tag).
	Held      bool      `json:"-"`
	CreatedAt time.Time `json:"-"`
	UpdatedAt time.Time `json:"-"`
	// Attrs are the item's attributes retention scopes filter on
	// ("channel", "integration"); Tags are its tags.
	Attrs map[string]string `json:"-"`
	Tags  map[string]string `json:"-"`
	// Users are the chat users the item belongs to: a conversation's
	// participants, a user itself (legal holds on users reach them).
	Users []string `json:"-"`
	// Records counts the stored items erasing it removes: itself and what
	// lives under it, as found when the plan was made.
	Records int `json:"n,omitempty"`
	// Secondary is the kind's own note of the item's entries outside its
	// partition (a get-or-create claim), fixed in the plan and handed back
	// to Sweep.
	Secondary string `json:"c,omitempty"`
}

// ItemKind is a kind whose items can be acted on one by one: deletion jobs,
// retention runs and data requests plan, export and erase through it.
type ItemKind interface {
	Kind
	// Inspect reads the facts of a bot's items (at most 100 ids): one
	// BatchGetItem, plus what counting their contents takes. Missing items
	// are absent from the answer.
	Inspect(ctx context.Context, bot string, ids []string) (map[string]Facts, error)
	// Export writes the item, then what lives under it, as archive lines,
	// a page at a time (memory does not grow with the item's size).
	Export(ctx context.Context, bot, id string, w LineWriter) error
	// EraseContents erases what lives under the item, not the item itself,
	// a page at a time. Erasing what is gone is a no-op.
	EraseContents(ctx context.Context, bot, id string) error
	// Final is the transaction item that erases the item itself, written
	// in the transaction that settles its chunk.
	Final(bot, id string) types.TransactWriteItem
	// Sweep removes, best effort, after the item is gone, what was written
	// under it meanwhile and its entries elsewhere (f as planned).
	Sweep(ctx context.Context, bot, id string, f Facts) error
}

// Candidate is an item an index listing found.
type Candidate struct {
	ID string
	Facts
}

// AgedKind is an item kind listed by age through an index (retention).
type AgedKind interface {
	ItemKind
	// Due calls page with the bot's items whose basis time (BasisCreated
	// or BasisUpdated) is at or before cutoff, and answers how many index
	// entries it read. Never a scan.
	Due(ctx context.Context, bot, basis string, cutoff time.Time, page func([]Candidate) error) (read int, err error)
}

// Basis times retention counts age from.
const (
	BasisCreated = "createdAt"
	BasisUpdated = "updatedAt"
)

// UserKind is an item kind that can list what belongs to one chat user
// (deletion jobs by user, data requests).
type UserKind interface {
	ItemKind
	// ByUser calls page with the ids of the user's items created between
	// from and to inclusive (zero times: unbounded), through an index.
	ByUser(ctx context.Context, bot, user string, from, to time.Time, page func(ids []string) error) error
}

// Line is one line of an export (an archive or a data export): JSON lines.
type Line struct {
	// Kind is the catalogue kind of the item the line belongs to; Type is
	// what the line holds (conversation, message, participant, state,
	// event, user, record …).
	Kind string `json:"kind,omitempty"`
	Type string `json:"type"`
	// Key is the item's sort key in its live table (for a restore).
	Key  string         `json:"key"`
	Data map[string]any `json:"data"`
	// On the first line of an archive only: where it came from and why.
	WorkspaceID string `json:"workspaceId,omitempty"`
	BotID       string `json:"botId,omitempty"`
	PolicyID    string `json:"policyId,omitempty"`
	RunID       string `json:"runId,omitempty"`
	ArchivedAt  string `json:"archivedAt,omitempty"`
}

// LineWriter receives export lines one at a time.
type LineWriter interface {
	WriteLine(Line) error
}

// Catalogue is the registry of kinds, in the order purge erases them
// (contained kinds before the kinds that hold them).
type Catalogue struct {
	kinds []Kind
}

// NewCatalogue registers kinds; names must be unique.
func NewCatalogue(kinds ...Kind) (*Catalogue, error) {
	seen := map[string]bool{}
	for _, k := range kinds {
		if seen[k.Name()] {
			return nil, fmt.Errorf("kind %q registered twice", k.Name())
		}
		seen[k.Name()] = true
	}
	return &Catalogue{kinds: kinds}, nil
}

// Kinds lists every registered kind.
func (c *Catalogue) Kinds() []Kind { return append([]Kind(nil), c.kinds...) }

// Kind returns the named kind.
func (c *Catalogue) Kind(name string) (Kind, bool) {
	for _, k := range c.kinds {
		if k.Name() == name {
			return k, true
		}
	}
	return nil, false
}

// ItemKind returns the named kind when items of it can be acted on.
func (c *Catalogue) ItemKind(name string) (ItemKind, bool) {
	k, ok := c.Kind(name)
	if !ok {
		return nil, false
	}
	ik, ok := k.(ItemKind)
	return ik, ok
}

// Kind names of the chat data (registered by the chat table's owner).
const (
	KindConversation = "conversation"
	KindUser         = "user"
	KindEvent        = "event"
)

// AgedKind returns the named kind when it can be listed by age.
func (c *Catalogue) AgedKind(name string) (AgedKind, bool) {
	k, ok := c.Kind(name)
	if !ok {
		return nil, false
	}
	ak, ok := k.(AgedKind)
	return ak, ok
}

// UserKind returns the named kind when a chat user's items can be listed.
func (c *Catalogue) UserKind(name string) (UserKind, bool) {
	k, ok := c.Kind(name)
	if !ok {
		return nil, false
	}
	uk, ok := k.(UserKind)
	return uk, ok
}
