package admindata

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
)

// BotAnswer is the bot as answered, with presigned media URLs.
func (s *Store) BotAnswer(ctx context.Context, b Bot) Bot {
	b = b.Answer()
	b.Medias = s.MediaAnswers(ctx, b.Medias)
	return b
}

// BotAndIntegrations reads a bot of the workspace and the integrations it
// is about to install in one BatchGetItem. Integrations the workspace may
// not use (private ones of other workspaces) are left out.
func (s *Store) BotAndIntegrations(ctx context.Context, ws, botID string, integrationIDs []string) (Bot, map[string]Integration, error) {
	keys := []map[string]types.AttributeValue{botKey(botID)}
	for _, i := range integrationIDs {
		keys = append(keys, integrationKey(i))
	}
	items, err := s.batchGet(ctx, keys...)
	if err != nil {
		return Bot{}, nil, err
	}
	if items[0] == nil || ds.String(items[0], "workspaceId") != ws {
		return Bot{}, nil, apperr.NotFound("bot", botID)
	}
	var b Bot
	if err := ds.Unmarshal(items[0], &b); err != nil {
		return Bot{}, nil, err
	}
	ints := map[string]Integration{}
	for _, it := range items[1:] {
		if it == nil {
			continue
		}
		var in Integration
		if err := ds.Unmarshal(it, &in); err != nil {
			return Bot{}, nil, err
		}
		if in.WorkspaceID == ws || in.Public {
			ints[in.ID] = in
		}
	}
	return b, ints, nil
}

// ReplaceBot writes the new state of a bot read at prevUpdatedAt, with its
// audit record, in one transaction. A concurrent change in between is a
// ResourceLockedConflict (the caller retries on a fresh read).
func (s *Store) ReplaceBot(ctx context.Context, ws string, b Bot, code *string, prevUpdatedAt string, audit AuditRecord) (Bot, error) {
	written, err := s.storeBlobs(ctx, &b, code)
	if err != nil {
		s.removeObjects(ctx, written...)
		return Bot{}, err
	}
	err = s.Commit(ctx, []types.TransactWriteItem{{Put: &types.Put{
		TableName: &s.table, Item: botItem(ws, b),
		ConditionExpression:       aws.String("workspaceId = :ws AND updatedAt = :prev"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":ws": ds.S(ws), ":prev": ds.S(prevUpdatedAt)},
	}}}, audit)
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		err = apperr.New(apperr.ResourceLockedConflict, "bot %q changed during the update; retry", b.ID)
	}
	if err != nil {
		s.removeObjects(ctx, written...)
	}
	return b, err
}

// DeleteBot removes a bot from reads and lists at once: its item goes,
// botCount drops and the audit record is written in one transaction, with
// extra, the caller's items of the same change (the purge intent that hands
// the bot's data to the lifecycle). Its data is left to the purge.
func (s *Store) DeleteBot(ctx context.Context, ws, botID string, audit AuditRecord, extra ...types.TransactWriteItem) error {
	items := []types.TransactWriteItem{
		{Delete: &types.Delete{
			TableName: &s.table, Key: botKey(botID),
			ConditionExpression:       aws.String("workspaceId = :ws"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":ws": ds.S(ws)},
		}},
		s.countBot(ws, -1),
	}
	err := s.Commit(ctx, append(items, extra...), audit)
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		return apperr.NotFound("bot", botID)
	}
	return err
}

// TransferBot moves a bot between workspaces: the bot's owner and list
// keys change, both botCounts change (the target's within its quota) and
// both workspaces get an audit record, in one transaction. The bot records
// when it was transferred: bot API keys created before no longer
// authenticate (they are revoked with the transfer, even if the bot comes
// back to their workspace).
func (s *Store) TransferBot(ctx context.Context, from, to, botID, updatedAt string, audits ...AuditRecord) error {
	items := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: &s.table, Key: botKey(botID),
			UpdateExpression:          aws.String("SET workspaceId = :to, gsi1pk = :list, gsi2pk = :list, updatedAt = :now, transferredAt = :now, gsi2sk = :sk"),
			ConditionExpression:       aws.String("workspaceId = :from"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":to": ds.S(to), ":from": ds.S(from), ":list": ds.S("WS#" + to + "#BOTS"), ":now": ds.S(updatedAt), ":sk": ds.S(updatedAt + "#" + botID)},
		}},
		s.countBot(from, -1),
		s.countBot(to, 1),
	}
	err := s.Commit(ctx, items, audits...)
	reasons := ds.CancellationReasons(err)
	switch {
	case len(reasons) > 2 && reasons[0] == "ConditionalCheckFailed":
		return apperr.NotFound("bot", botID)
	case len(reasons) > 2 && reasons[2] == "ConditionalCheckFailed":
		return apperr.New(apperr.QuotaExceeded, "the target workspace has reached its plan's quota of bots")
	}
	return err
}

// --- logs ---

// LogRecord is one line of a bot's or an integration's log: webhook
// deliveries, action calls, errors.
type LogRecord struct {
	Timestamp      string `json:"timestamp"`
	Level          string `json:"level"`
	Message        string `json:"message"`
	WorkflowID     string `json:"workflowId,omitempty"`
	UserID         string `json:"userId,omitempty"`
	ConversationID string `json:"conversationId,omitempty"`
}

// LogRetention is how long log records are kept.
const LogRetention = 30 * 24 * time.Hour

// LogPut is the write of one log record of a bot ("BOT") or an integration
// ("INT"), for a transaction of the work it logs.
func (s *Store) LogPut(kind, ownerID string, r LogRecord) types.TransactWriteItem {
	t, err := clock.Parse(r.Timestamp)
	if err != nil {
		t = s.now()
		r.Timestamp = clock.Format(t)
	}
	item := ds.Item(r, map[string]string{ds.PK: logPartition(kind, ownerID), ds.SK: r.Timestamp + "#" + id.ULID(t)})
	item["expiresAt"] = num(int(t.Add(LogRetention).Unix()))
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: item}}
}

// AppendBotLog appends one record to a bot's log (one PutItem).
func (s *Store) AppendBotLog(ctx context.Context, botID string, r LogRecord) error {
	p := s.LogPut("BOT", botID, r).Put
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: p.TableName, Item: p.Item})
	return err
}

// LogFilter narrows a log read.
type LogFilter struct {
	Start, End                                                 string
	Level, UserID, WorkflowID, ConversationID, MessageContains string
}

// Logs returns one page of a bot's or integration's log between two
// instants, most recent first: one Query, the filters within its page.
func (s *Store) Logs(ctx context.Context, kind, ownerID string, f LogFilter, token string) ([]LogRecord, string, error) {
	b := expression.NewBuilder().WithKeyCondition(expression.Key(ds.PK).Equal(expression.Value(logPartition(kind, ownerID))).
		And(expression.Key(ds.SK).Between(expression.Value(f.Start), expression.Value(f.End+"~"))))
	var conds []expression.ConditionBuilder
	for name, v := range map[string]string{"level": f.Level, "userId": f.UserID, "workflowId": f.WorkflowID, "conversationId": f.ConversationID} {
		if v != "" {
			conds = append(conds, expression.Name(name).Equal(expression.Value(v)))
		}
	}
	if f.MessageContains != "" {
		conds = append(conds, expression.Name("message").Contains(f.MessageContains))
	}
	switch len(conds) {
	case 0:
	case 1:
		b = b.WithFilter(conds[0])
	default:
		b = b.WithFilter(expression.And(conds[0], conds[1], conds[2:]...))
	}
	expr, err := b.Build()
	if err != nil {
		return nil, "", err
	}
	scope := strings.Join([]string{"logs", kind, ownerID, f.Start, f.End, f.Level, f.UserID, f.WorkflowID, f.ConversationID, f.MessageContains}, "|")
	page, err := ds.QueryPage(ctx, s.db, s.pages, scope, token, 100, &dynamodb.QueryInput{
		TableName: &s.table, ScanIndexForward: aws.Bool(false),
		KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]LogRecord, 0, len(page.Items))
	for _, it := range page.Items {
		var r LogRecord
		if err := ds.Unmarshal(it, &r); err != nil {
			return nil, "", err
		}
		out = append(out, r)
	}
	return out, page.NextToken, nil
}

// --- issues ---

// Issue groups the failures of one code in a bot.
type Issue struct {
	ID             string                `json:"id"`
	Code           string                `json:"code"`
	CreatedAt      string                `json:"createdAt"`
	LastSeenAt     string                `json:"lastSeenAt"`
	Title          string                `json:"title"`
	Description    string                `json:"description"`
	GroupedData    map[string]IssueDatum `json:"groupedData"`
	EventsCount    int                   `json:"eventsCount"`
	Category       string                `json:"category"`
	ResolutionLink *string               `json:"resolutionLink"`
}

// IssueDatum is one value of an issue or issue event.
type IssueDatum struct {
	Raw    string `json:"raw"`
	Pretty string `json:"pretty,omitempty"`
}

// IssueEvent is one occurrence of an issue.
type IssueEvent struct {
	ID        string                `json:"id"`
	CreatedAt string                `json:"createdAt"`
	Data      map[string]IssueDatum `json:"data"`
}

// IssueReport is a failure to record: a webhook delivery or an action call
// of a bot that failed. Category is user_code, limits, configuration or
// other.
type IssueReport struct {
	BotID, Code, Title, Description, Category string
	Data                                      map[string]string
	At                                        time.Time
}

// IssueID is the id of the issue grouping a bot's failures of code.
func IssueID(code string) string {
	sum := sha256.Sum256([]byte(code))
	return "issue_" + strings.ToUpper(hex.EncodeToString(sum[:12]))
}

func issueEventsKey(bot, issueID string) string { return "ISSUE#" + bot + "#" + issueID }

func logPartition(kind, ownerID string) string { return "LOG#" + kind + "#" + ownerID }

func issueEventsIndex(bot string) string { return "BOT#" + bot + "#ISSUEEVENTS" }

func issueKey(bot, issueID string) map[string]types.AttributeValue {
	return ds.Key("BOT#"+bot, "ISSUE#"+issueID)
}

// RecordIssue records one failure (one TransactWriteItems): the issue of
// its code is created or updated (eventsCount, lastSeenAt, latest data) and
// the event is appended. The chat API calls it when a delivery or an
// action fails.
func (s *Store) RecordIssue(ctx context.Context, r IssueReport) error {
	if r.At.IsZero() {
		r.At = s.now()
	}
	if r.Category == "" {
		r.Category = "other"
	}
	at := clock.Format(r.At)
	issueID := IssueID(r.Code)
	data := map[string]IssueDatum{}
	for k, v := range r.Data {
		data[k] = IssueDatum{Raw: v}
	}
	event := IssueEvent{ID: id.NewAt("issuevt", r.At), CreatedAt: at, Data: data}
	evItem := ds.Item(event, map[string]string{ds.PK: issueEventsKey(r.BotID, issueID), ds.SK: "EVT#" + at + "#" + event.ID})
	evItem["expiresAt"] = num(int(r.At.Add(LogRetention).Unix()))
	// The bot's index of issue events finds them all when the bot is
	// purged, even those of an issue deleted meanwhile.
	evItem[ds.GSI1PK], evItem[ds.GSI1SK] = ds.S(issueEventsIndex(r.BotID)), ds.S(at+"#"+event.ID)
	return s.transact(ctx,
		types.TransactWriteItem{Update: &types.Update{
			TableName: &s.table, Key: issueKey(r.BotID, issueID),
			UpdateExpression: aws.String("SET #id = :id, #code = :code, createdAt = if_not_exists(createdAt, :at), lastSeenAt = :at, " +
				"#title = :title, #desc = :desc, groupedData = :data, #cat = :cat, gsi1pk = :list, gsi1sk = :sk ADD eventsCount :one"),
			ExpressionAttributeNames: map[string]string{"#id": "id", "#code": "code", "#title": "title", "#desc": "description", "#cat": "category"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":id": ds.S(issueID), ":code": ds.S(r.Code), ":at": ds.S(at), ":title": ds.S(r.Title), ":desc": ds.S(r.Description),
				":data": ds.Value(data), ":cat": ds.S(r.Category), ":list": ds.S("BOT#" + r.BotID + "#ISSUES"), ":sk": ds.S(at + "#" + issueID), ":one": num(1),
			},
		}},
		types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: evItem}},
	)
}

// BotIssue reads an issue of a bot of the workspace: the bot and the issue
// in one BatchGetItem. A bot of another workspace is reported as missing,
// like a missing one.
func (s *Store) BotIssue(ctx context.Context, ws, botID, issueID string) (Issue, error) {
	items, err := s.batchGet(ctx, botKey(botID), issueKey(botID, issueID))
	if err != nil {
		return Issue{}, err
	}
	if items[0] == nil || ds.String(items[0], "workspaceId") != ws {
		return Issue{}, apperr.NotFound("bot", botID)
	}
	if items[1] == nil {
		return Issue{}, apperr.NotFound("issue", issueID)
	}
	var i Issue
	err = ds.Unmarshal(items[1], &i)
	i.normalize()
	return i, err
}

func (i *Issue) normalize() {
	if i.GroupedData == nil {
		i.GroupedData = map[string]IssueDatum{}
	}
}

// Issue returns an issue of a bot.
func (s *Store) Issue(ctx context.Context, botID, issueID string) (Issue, error) {
	var i Issue
	err := s.get(ctx, issueKey(botID, issueID), &i, "issue", issueID)
	i.normalize()
	return i, err
}

// ListIssues returns one page of a bot's issues, most recently seen first:
// one Query.
func (s *Store) ListIssues(ctx context.Context, botID, token string) ([]Issue, string, error) {
	expr, _ := expression.NewBuilder().WithKeyCondition(expression.Key(ds.GSI1PK).Equal(expression.Value("BOT#" + botID + "#ISSUES"))).Build()
	page, err := ds.QueryPage(ctx, s.db, s.pages, "issues|"+botID, token, ds.DefaultPageSize, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(ds.GSI1), ScanIndexForward: aws.Bool(false),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]Issue, 0, len(page.Items))
	for _, it := range page.Items {
		var i Issue
		if err := ds.Unmarshal(it, &i); err != nil {
			return nil, "", err
		}
		i.normalize()
		out = append(out, i)
	}
	return out, page.NextToken, nil
}

// MaxIssueEvents is how many of an issue's events are answered (the API
// does not paginate them).
const MaxIssueEvents = 100

// ListIssueEvents returns an issue's most recent events since the issue was
// (re)created: one Query.
func (s *Store) ListIssueEvents(ctx context.Context, botID string, issue Issue) ([]IssueEvent, error) {
	keyCond := expression.Key(ds.PK).Equal(expression.Value(issueEventsKey(botID, issue.ID))).
		And(expression.Key(ds.SK).GreaterThanEqual(expression.Value("EVT#" + issue.CreatedAt)))
	expr, _ := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	page, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &s.table, ScanIndexForward: aws.Bool(false), Limit: aws.Int32(MaxIssueEvents),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return nil, err
	}
	out := make([]IssueEvent, 0, len(page.Items))
	for _, it := range page.Items {
		var e IssueEvent
		if err := ds.Unmarshal(it, &e); err != nil {
			return nil, err
		}
		if e.Data == nil {
			e.Data = map[string]IssueDatum{}
		}
		out = append(out, e)
	}
	return out, nil
}

// DeleteIssue deletes an issue with its audit record (one transaction);
// its events expire on their own and are not shown if the code recurs.
func (s *Store) DeleteIssue(ctx context.Context, botID, issueID string, audit AuditRecord) error {
	err := s.Commit(ctx, []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &s.table, Key: issueKey(botID, issueID), ConditionExpression: aws.String("attribute_exists(pk)")}},
	}, audit)
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		return apperr.NotFound("issue", issueID)
	}
	return err
}
