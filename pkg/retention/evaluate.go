// Package retention enforces retention policies: at each off-peak window
// every policy is evaluated (its due items found through indexes by time,
// never a scan), each due item is given to the one policy that is due
// earliest, and the work is handed to the lifecycle worker in chunks that
// archive (to S3, then erase) or delete, counted exactly once per run.
package retention

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/oklog/ulid/v2"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/deletion"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/policy"
)

// Item is a governed item found due: a conversation (ID is its id) or an
// event (PK and SK locate it).
type Item struct {
	BotID string `json:"botId"`
	ID    string `json:"id"`
	PK    string `json:"pk,omitempty"`
	SK    string `json:"sk,omitempty"`
	// Basis is the item's basis time for the policy that found it.
	Basis time.Time `json:"-"`
	Held  bool      `json:"-"`
}

// Bots lists a workspace's bots.
type Bots interface {
	WorkspaceBotIDs(ctx context.Context, workspaceID string) ([]string, error)
}

// Finder finds due items through the chat table's time-ordered keys and
// indexes, so what it reads grows with what is due, not with what is stored.
type Finder struct {
	db        ds.Client
	chatTable string
	bots      Bots
}

// NewFinder returns a finder on the chat table.
func NewFinder(db ds.Client, chatTable string, bots Bots) *Finder {
	return &Finder{db: db, chatTable: chatTable, bots: bots}
}

// ulidBound is the largest ULID of t's millisecond: ids up to it were
// created at or before t.
func ulidBound(t time.Time) string {
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(t))
	for i := 6; i < 16; i++ {
		u[i] = 0xff
	}
	return u.String()
}

// due finds the items of one bot a config governs whose basis time is at
// or before cutoff, and how many index entries were read to find them.
func (f *Finder) due(ctx context.Context, bot string, c policy.Config, cutoff time.Time) ([]Item, int, error) {
	var in *dynamodb.QueryInput
	switch {
	case c.Resources == policy.ResourceEvents:
		// gsi2: BOT#<bot>#EVTS / <event id>, ids time-ordered.
		expr, _ := expression.NewBuilder().
			WithKeyCondition(expression.Key("gsi2pk").Equal(expression.Value("BOT#" + bot + "#EVTS")).
				And(expression.Key("gsi2sk").Between(expression.Value("evt_"), expression.Value("evt_"+ulidBound(cutoff))))).
			WithProjection(expression.NamesList(expression.Name(ds.PK), expression.Name(ds.SK), expression.Name("gsi2sk"))).Build()
		in = &dynamodb.QueryInput{IndexName: aws.String("gsi2"), KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}
	case c.Basis == policy.BasisCreatedAt:
		// Conversation ids are ULIDs: the key range up to the cutoff's.
		expr, _ := expression.NewBuilder().
			WithKeyCondition(expression.Key(ds.PK).Equal(expression.Value("BOT#" + bot)).
				And(expression.Key(ds.SK).Between(expression.Value("CONV#conv_"), expression.Value("CONV#conv_"+ulidBound(cutoff))))).
			WithProjection(convProjection()).Build()
		in = &dynamodb.QueryInput{KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}
	default:
		// gsi2: BOT#<bot>#CONVS / <updatedAt>#<conv>.
		expr, _ := expression.NewBuilder().
			WithKeyCondition(expression.Key("gsi2pk").Equal(expression.Value("BOT#" + bot + "#CONVS")).
				And(expression.Key("gsi2sk").LessThanEqual(expression.Value(clock.Format(cutoff) + "#~")))).
			WithProjection(convProjection()).Build()
		in = &dynamodb.QueryInput{IndexName: aws.String("gsi2"), KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}
	}
	in.TableName = aws.String(f.chatTable)
	pages := dynamodb.NewQueryPaginator(f.db, in)
	var items []Item
	read := 0
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, 0, err
		}
		read += int(out.ScannedCount)
		for _, it := range out.Items {
			if c.Resources == policy.ResourceEvents {
				id := ds.String(it, "gsi2sk")
				items = append(items, Item{BotID: bot, ID: id, PK: ds.String(it, ds.PK), SK: ds.String(it, ds.SK), Basis: idTime(id)})
				continue
			}
			var conv struct {
				ID          string            `json:"id"`
				CreatedAt   string            `json:"createdAt"`
				UpdatedAt   string            `json:"updatedAt"`
				Channel     string            `json:"channel"`
				Integration string            `json:"integration"`
				Tags        map[string]string `json:"tags"`
			}
			if err := ds.Unmarshal(it, &conv); err != nil {
				return nil, 0, err
			}
			if !inScope(c.Scope, conv.Channel, conv.Integration, conv.Tags) {
				continue
			}
			basis := conv.UpdatedAt
			if c.Basis == policy.BasisCreatedAt {
				basis = conv.CreatedAt
			}
			t, err := clock.Parse(basis)
			if err != nil || t.After(cutoff) {
				continue
			}
			items = append(items, Item{BotID: bot, ID: conv.ID, Basis: t, Held: conv.Tags[deletion.LegalHoldTag] == "true"})
		}
	}
	return items, read, nil
}

func convProjection() expression.ProjectionBuilder {
	return expression.NamesList(expression.Name("id"), expression.Name("createdAt"), expression.Name("updatedAt"),
		expression.Name("channel"), expression.Name("integration"), expression.Name("tags"))
}

// idTime is the creation time of a prefixed ULID id.
func idTime(id string) time.Time {
	_, raw, _ := strings.Cut(id, "_")
	u, err := ulid.ParseStrict(raw)
	if err != nil {
		return time.Time{}
	}
	return ulid.Time(u.Time())
}

func inScope(s policy.Scope, channel, integration string, tags map[string]string) bool {
	if len(s.Channels) > 0 && !contains(s.Channels, channel) {
		return false
	}
	if len(s.IntegrationNames) > 0 && !contains(s.IntegrationNames, integration) {
		return false
	}
	for k, v := range s.Tags {
		if tags[k] != v {
			return false
		}
	}
	return true
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Assignment is what one policy gets to act on in an evaluation.
type Assignment struct {
	Policy policy.Policy
	Cutoff time.Time
	// Items are the due items this policy won (held ones included: the
	// worker skips and counts them).
	Items []Item
	// Read counts the index entries read; Yielded counts due items another
	// policy won because it was due earlier.
	Read, Yielded int
}

// Evaluate evaluates a workspace's policies at now: each policy's due items
// are found, and an item governed by several policies goes to the one due
// earliest (basis time plus maxAge; ties to the lower policy id).
func (f *Finder) Evaluate(ctx context.Context, ws string, policies []policy.Policy, now time.Time) ([]*Assignment, error) {
	bots, err := f.bots.WorkspaceBotIDs(ctx, ws)
	if err != nil {
		return nil, err
	}
	sort.Slice(policies, func(i, j int) bool { return policies[i].ID < policies[j].ID })
	type claim struct {
		a   *Assignment
		due time.Time
		it  Item
	}
	winners := map[string]claim{}
	var out []*Assignment
	for _, p := range policies {
		a := &Assignment{Policy: p, Cutoff: p.Config.Cutoff(now)}
		out = append(out, a)
		d, err := policy.ParseDuration(p.Config.MaxAge)
		if err != nil {
			continue
		}
		for _, bot := range bots {
			if len(p.Config.Scope.BotIDs) > 0 && !contains(p.Config.Scope.BotIDs, bot) {
				continue
			}
			items, read, err := f.due(ctx, bot, p.Config, a.Cutoff)
			if err != nil {
				return nil, err
			}
			a.Read += read
			for _, it := range items {
				key := p.Config.Resources + "|" + bot + "|" + it.ID
				due := d.After(it.Basis)
				if prev, ok := winners[key]; ok && !due.Before(prev.due) {
					a.Yielded++
					continue
				} else if ok {
					prev.a.Yielded++
				}
				winners[key] = claim{a: a, due: due, it: it}
			}
		}
	}
	for _, c := range winners {
		c.a.Items = append(c.a.Items, c.it)
	}
	for _, a := range out {
		sort.Slice(a.Items, func(i, j int) bool {
			if a.Items[i].BotID != a.Items[j].BotID {
				return a.Items[i].BotID < a.Items[j].BotID
			}
			return a.Items[i].ID < a.Items[j].ID
		})
	}
	return out, nil
}
