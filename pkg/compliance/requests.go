package compliance

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// RequestKind names data request work items on the lifecycle queue.
const RequestKind = "dataRequest"

// RequestStore keeps data requests.
type RequestStore interface {
	Create(ctx context.Context, r lifecycledata.DataRequest, commit audit.Commit) error
	Get(ctx context.Context, ws, id string) (lifecycledata.DataRequest, error)
	Save(ctx context.Context, r lifecycledata.DataRequest) error
	OfWorkspace(ctx context.Context, ws string) ([]lifecycledata.DataRequest, error)
}

// Presigner makes the short-lived download URL of an export.
type Presigner interface {
	DownloadURL(ctx context.Context, key string) (string, error)
}

// RequestAPI serves /api/v1/data-requests.
type RequestAPI struct {
	requests RequestStore
	bots     WorkspaceBots
	trail    audit.Trail
	queue    lifecycle.Queue
	queueURL string
	presign  Presigner
	auth     *auth.Authenticator
	clock    clock.Clock
	log      *slog.Logger
}

// NewRequestAPI returns the data requests API; accepted requests are
// queued at once on the lifecycle queue (the off-peak window resumes any
// whose work item was lost).
func NewRequestAPI(requests RequestStore, bots WorkspaceBots, trail audit.Trail, q lifecycle.Queue, queueURL string, presign Presigner, a *auth.Authenticator, c clock.Clock, log *slog.Logger) *RequestAPI {
	return &RequestAPI{requests: requests, bots: bots, trail: trail, queue: q, queueURL: queueURL, presign: presign, auth: a, clock: c, log: log}
}

// Register adds the routes to rt.
func (a *RequestAPI) Register(rt *httpapi.Router) {
	rt.Handle("POST", "/api/v1/data-requests", a.create, a.auth.Require(auth.Workspace, auth.ComplianceWrite))
	rt.Handle("GET", "/api/v1/data-requests/{id}", a.get, a.auth.Require(auth.Workspace, auth.ComplianceRead))
}

type requestBody struct {
	Type    *string `json:"type"`
	Subject *struct {
		UserIDs []string          `json:"userIds"`
		Tags    map[string]string `json:"tags"`
	} `json:"subject"`
	BotIDs []string `json:"botIds"`
}

// requestWork is the body of a RequestKind work item.
type requestWork struct {
	WorkspaceID string `json:"workspaceId"`
	RequestID   string `json:"requestId"`
}

func (a *RequestAPI) create(r *http.Request) (httpapi.Response, error) {
	var in requestBody
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Type == nil || (*in.Type != lifecycledata.RequestExport && *in.Type != lifecycledata.RequestErasure) {
		return httpapi.Response{}, apperr.Invalid(`type must be "export" or "erasure"`)
	}
	if in.Subject == nil || (len(in.Subject.UserIDs) == 0) == (len(in.Subject.Tags) == 0) {
		return httpapi.Response{}, apperr.Invalid("subject names the person by userIds or by tags (one of them)")
	}
	if len(in.Subject.UserIDs) > maxHoldIDs || len(in.Subject.Tags) > maxHoldTags {
		return httpapi.Response{}, apperr.Invalid("a subject names at most %d user ids and %d tags", maxHoldIDs, maxHoldTags)
	}
	for _, u := range in.Subject.UserIDs {
		if !id.Valid(u) {
			return httpapi.Response{}, apperr.Invalid("%q is not a valid user id", u)
		}
	}
	for k, v := range in.Subject.Tags {
		if k == "" || v == "" {
			return httpapi.Response{}, apperr.Invalid("subject tags need a name and a value")
		}
	}
	p := auth.FromContext(r.Context())
	bots, err := a.bots.WorkspaceBotIDs(r.Context(), p.WorkspaceID)
	if err != nil {
		return httpapi.Response{}, err
	}
	for _, b := range in.BotIDs {
		if !contains(bots, b) {
			return httpapi.Response{}, apperr.NotFound("bot", b)
		}
	}
	now := a.clock.Now()
	req := lifecycledata.DataRequest{ID: id.NewAt("dsr", now), WorkspaceID: p.WorkspaceID, Type: *in.Type,
		Subject: lifecycledata.Subject{UserIDs: in.Subject.UserIDs, Tags: in.Subject.Tags}, BotIDs: in.BotIDs,
		Status: lifecycledata.RequestQueued, Counts: map[string]map[string]int{}, SubmittedAt: clock.Format(now), SubmittedBy: p.AccountID}
	rec := audit.New(p.WorkspaceID, p.AccountID, AuditCreateRequest, req.ID, req.Type, now)
	if err := a.requests.Create(r.Context(), req, audit.With(a.trail, rec)); err != nil {
		return httpapi.Response{}, err
	}
	if err := lifecycle.Enqueue(r.Context(), a.queue, a.queueURL, RequestKind, []any{requestWork{WorkspaceID: p.WorkspaceID, RequestID: req.ID}}); err != nil {
		a.log.WarnContext(r.Context(), "data request not queued; the next window starts it", "request", req.ID, "request_id", httpapi.RequestID(r.Context()), "error", err)
	}
	return httpapi.OK(map[string]any{"id": req.ID, "status": req.Status}), nil
}

func (a *RequestAPI) get(r *http.Request) (httpapi.Response, error) {
	req, err := a.requests.Get(r.Context(), auth.FromContext(r.Context()).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	out := map[string]any{"id": req.ID, "type": req.Type, "status": req.Status, "counts": req.Counts, "submittedAt": req.SubmittedAt,
		"startedAt": req.StartedAt, "completedAt": req.CompletedAt, "receiptId": nil, "downloadUrl": nil}
	if req.ReceiptID != "" {
		out["receiptId"] = req.ReceiptID
	}
	if req.Error != "" {
		out["error"] = req.Error
	}
	if req.Status == lifecycledata.RequestCompleted && req.ExportKey != "" {
		url, err := a.presign.DownloadURL(r.Context(), req.ExportKey)
		if err != nil {
			return httpapi.Response{}, err
		}
		out["downloadUrl"] = url
	}
	return httpapi.OK(out), nil
}

// ---- the worker ----

// UserKind is the catalogue's user kind with what requests need beyond it.
type UserKind interface {
	lifecycle.UserKind
	UsersByTags(ctx context.Context, bot string, tags map[string]string) ([]string, error)
}

// ConversationKind is the catalogue's conversation kind with the erasure
// of one person's part of a shared conversation.
type ConversationKind interface {
	lifecycle.UserKind
	ErasePart(ctx context.Context, bot, conv, user string) (int, error)
}

// Receipts writes a request's receipt pages and signs its summary.
type Receipts interface {
	PutItems(ctx context.Context, receiptID, workspaceID, part string, items []lifecycledata.Disposition) error
	Issue(ctx context.Context, receiptID, workspaceID, typ string, fields map[string]any) error
}

// Holds answers a workspace's active legal holds.
type Holds interface {
	Active(ctx context.Context, ws string) ([]lifecycledata.Hold, error)
}

// Exports writes export archives and erases them.
type Exports interface {
	lifecycle.ObjectStore
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Transactor runs the transaction that erases an item itself.
type Transactor interface {
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// OwnsLine tells whether a line of a conversation's export belongs to a
// person (the chat table's owner decides).
type OwnsLine func(lineType, key string, data map[string]any, user, bot string) bool

// RequestWorker runs data requests: export or erasure of one person's data
// across the workspace's bots, through the catalogue.
type RequestWorker struct {
	Requests      RequestStore
	Bots          WorkspaceBots
	Holds         Holds
	Receipts      Receipts
	Users         UserKind
	Conversations ConversationKind
	Owns          OwnsLine
	Exports       Exports
	Bucket        string
	DB            Transactor
	Clock         clock.Clock
	Log           *slog.Logger
}

// Handle is the lifecycle handler for RequestKind items. A request runs in
// one work item; a retry starts it again (every step is idempotent).
func (w *RequestWorker) Handle(ctx context.Context, body json.RawMessage, _ int) error {
	var work requestWork
	if err := json.Unmarshal(body, &work); err != nil || work.RequestID == "" {
		return fmt.Errorf("unreadable data request work: %s", body)
	}
	req, err := w.Requests.Get(ctx, work.WorkspaceID, work.RequestID)
	if apperr.Is(err, apperr.ResourceNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if req.Status == lifecycledata.RequestCompleted || req.Status == lifecycledata.RequestFailed {
		return nil
	}
	now := clock.Format(w.Clock.Now())
	if req.StartedAt == nil {
		req.StartedAt = &now
	}
	req.Status, req.Counts = lifecycledata.RequestInProgress, map[string]map[string]int{}
	if err := w.Requests.Save(ctx, req); err != nil {
		return err
	}
	subjects, err := w.resolve(ctx, &req)
	if err != nil {
		return err
	}
	if req.Type == lifecycledata.RequestExport {
		err = w.export(ctx, &req, subjects)
	} else {
		err = w.erase(ctx, &req, subjects)
	}
	if err != nil {
		return err
	}
	done := clock.Format(w.Clock.Now())
	req.Status, req.CompletedAt, req.ReceiptID = lifecycledata.RequestCompleted, &done, req.ID
	// A finished request keeps digests of the person, never their ids or tags.
	req.Redact()
	if err := w.Receipts.Issue(ctx, req.ID, req.WorkspaceID, lifecycle.ReceiptDataRequest, map[string]any{
		"requestType": req.Type, "status": req.Status, "submittedAt": req.SubmittedAt, "completedAt": done,
		"subjects": len(subjects), "counts": req.Counts,
	}); err != nil {
		return fmt.Errorf("receipt: %w", err)
	}
	return w.Requests.Save(ctx, req)
}

// subject is one chat user of the person, on one bot.
type subject struct{ bot, user string }

// resolve finds the person's users on each bot: the ids given that exist
// there, or the users holding the tags.
func (w *RequestWorker) resolve(ctx context.Context, req *lifecycledata.DataRequest) ([]subject, error) {
	bots := req.BotIDs
	if len(bots) == 0 {
		var err error
		if bots, err = w.Bots.WorkspaceBotIDs(ctx, req.WorkspaceID); err != nil {
			return nil, err
		}
	}
	var out []subject
	req.Users = nil
	for _, bot := range bots {
		var users []string
		if len(req.Subject.UserIDs) > 0 {
			found, err := w.Users.Inspect(ctx, bot, req.Subject.UserIDs)
			if err != nil {
				return nil, err
			}
			for _, u := range req.Subject.UserIDs {
				if _, ok := found[u]; ok {
					users = append(users, u)
				}
			}
		} else {
			var err error
			if users, err = w.Users.UsersByTags(ctx, bot, req.Subject.Tags); err != nil {
				return nil, err
			}
		}
		for _, u := range users {
			out = append(out, subject{bot, u})
			req.Users = append(req.Users, lifecycledata.UserDigest(req.WorkspaceID, bot, u))
		}
	}
	return out, nil
}

func (w *RequestWorker) count(req *lifecycledata.DataRequest, kind, disposition string, n int) {
	if n == 0 {
		return
	}
	if req.Counts[kind] == nil {
		req.Counts[kind] = map[string]int{}
	}
	req.Counts[kind][disposition] += n
}

// jsonLines writes export lines of one kind into a zip entry, keeping only
// what belongs to the person.
type jsonLines struct {
	enc       *json.Encoder
	user, bot string
	owns      OwnsLine
	n         int
}

func (j *jsonLines) WriteLine(l lifecycle.Line) error {
	if j.owns != nil && !j.owns(l.Type, l.Key, l.Data, j.user, j.bot) {
		return nil
	}
	l.BotID = j.bot
	j.n++
	return j.enc.Encode(l)
}

// export writes one zip of JSON lines per kind (user.jsonl,
// conversation.jsonl), streamed to S3 and encrypted at rest.
func (w *RequestWorker) export(ctx context.Context, req *lifecycledata.DataRequest, subjects []subject) error {
	key := "exports/" + req.WorkspaceID + "/" + req.ID + ".zip"
	obj := lifecycle.NewObjectWriter(ctx, w.Exports, w.Bucket, key, "application/zip")
	zw := zip.NewWriter(obj)
	at := clock.Format(w.Clock.Now())
	var receipt []lifecycledata.Disposition
	for _, kind := range []lifecycle.UserKind{w.Users, w.Conversations} {
		entry, err := zw.Create(kind.Name() + ".jsonl")
		if err != nil {
			return err
		}
		enc := json.NewEncoder(entry)
		for _, s := range subjects {
			ids, err := w.idsOf(ctx, kind, s)
			if err != nil {
				return err
			}
			lw := &jsonLines{enc: enc, user: s.user, bot: s.bot}
			if kind.Name() == lifecycle.KindConversation {
				lw.owns = w.Owns
			}
			for _, itemID := range ids {
				if err := kind.Export(ctx, s.bot, itemID, lw); err != nil {
					abortErr := obj.Abort()
					return fmt.Errorf("export %s %s: %w (abort: %v)", kind.Name(), itemID, err, abortErr)
				}
				receipt = append(receipt, lifecycledata.Disposition{ID: itemID, Kind: kind.Name(), BotID: s.bot, Disposition: lifecycledata.Exported, At: at})
			}
			w.count(req, kind.Name(), lifecycledata.Exported, len(ids))
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := obj.Close(); err != nil {
		return err
	}
	req.ExportKey = key
	return w.record(ctx, req, "export", receipt)
}

func (w *RequestWorker) idsOf(ctx context.Context, kind lifecycle.UserKind, s subject) ([]string, error) {
	var ids []string
	err := kind.ByUser(ctx, s.bot, s.user, time.Time{}, time.Time{}, func(page []string) error {
		for _, v := range page {
			if !slices.Contains(ids, v) {
				ids = append(ids, v)
			}
		}
		return nil
	})
	return ids, err
}

// record writes receipt pages of at most 100 dispositions.
func (w *RequestWorker) record(ctx context.Context, req *lifecycledata.DataRequest, part string, items []lifecycledata.Disposition) error {
	for i := 0; i < len(items) || i == 0; i += 100 {
		page := items[i:min(i+100, len(items))]
		if err := w.Receipts.PutItems(ctx, req.ID, req.WorkspaceID, fmt.Sprintf("%s-%05d", part, i/100), page); err != nil {
			return err
		}
		if len(items) == 0 {
			break
		}
	}
	return nil
}

// erase removes the person's data through the catalogue: conversations
// they alone take part in, whole; in shared ones, their messages, events
// and participation; then their user records, then their earlier exports.
// A held item is skipped with its hold.
func (w *RequestWorker) erase(ctx context.Context, req *lifecycledata.DataRequest, subjects []subject) error {
	holds, err := w.Holds.Active(ctx, req.WorkspaceID)
	if err != nil {
		return err
	}
	at := clock.Format(w.Clock.Now())
	for i, s := range subjects {
		var receipt []lifecycledata.Disposition
		convs, err := w.idsOf(ctx, w.Conversations, s)
		if err != nil {
			return err
		}
		for start := 0; start < len(convs); start += 100 {
			batch := convs[start:min(start+100, len(convs))]
			facts, err := w.Conversations.Inspect(ctx, s.bot, batch)
			if err != nil {
				return err
			}
			for _, conv := range batch {
				d, err := w.eraseConversation(ctx, s, conv, facts, holds, at)
				if err != nil {
					return err
				}
				receipt = append(receipt, d)
				w.count(req, lifecycle.KindConversation, d.Disposition, 1)
			}
		}
		d, err := w.eraseUser(ctx, s, holds, at)
		if err != nil {
			return err
		}
		receipt = append(receipt, d)
		w.count(req, lifecycle.KindUser, d.Disposition, 1)
		if err := w.record(ctx, req, fmt.Sprintf("subject-%05d", i), receipt); err != nil {
			return err
		}
	}
	return w.eraseExports(ctx, req, at)
}

func (w *RequestWorker) eraseConversation(ctx context.Context, s subject, conv string, facts map[string]lifecycle.Facts, holds []lifecycledata.Hold, at string) (lifecycledata.Disposition, error) {
	d := lifecycledata.Disposition{ID: conv, Kind: lifecycle.KindConversation, BotID: s.bot, At: at}
	f, found := facts[conv]
	if !found {
		d.Disposition, d.Reason = lifecycledata.Skipped, "notFound"
		return d, nil
	}
	if hold := heldBy(holds, s.bot, lifecycle.KindConversation, conv, f.Users, f.Tags); hold != "" || f.Held {
		if hold == "" {
			hold = "tag:legalHold"
		}
		d.Disposition, d.Reason, d.HoldID = lifecycledata.Skipped, "legalHold", hold
		return d, nil
	}
	others := 0
	for _, u := range f.Users {
		if u != s.user {
			others++
		}
	}
	if others > 0 {
		n, err := w.Conversations.ErasePart(ctx, s.bot, conv, s.user)
		d.Disposition, d.Reason, d.Records = lifecycledata.Deleted, "personsPart", n
		return d, err
	}
	if err := w.Conversations.EraseContents(ctx, s.bot, conv); err != nil {
		return d, err
	}
	if _, err := w.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{w.Conversations.Final(s.bot, conv)}}); err != nil {
		return d, err
	}
	if err := w.Conversations.Sweep(ctx, s.bot, conv, f); err != nil {
		w.Log.WarnContext(ctx, "sweep after erasure failed", "conversation", conv, "error", err)
	}
	d.Disposition, d.Records = lifecycledata.Deleted, f.Records
	return d, nil
}

func (w *RequestWorker) eraseUser(ctx context.Context, s subject, holds []lifecycledata.Hold, at string) (lifecycledata.Disposition, error) {
	d := lifecycledata.Disposition{ID: s.user, Kind: lifecycle.KindUser, BotID: s.bot, At: at}
	facts, err := w.Users.Inspect(ctx, s.bot, []string{s.user})
	if err != nil {
		return d, err
	}
	f, found := facts[s.user]
	if !found {
		d.Disposition, d.Reason = lifecycledata.Skipped, "notFound"
		return d, nil
	}
	if hold := heldBy(holds, s.bot, lifecycle.KindUser, s.user, f.Users, f.Tags); hold != "" {
		d.Disposition, d.Reason, d.HoldID = lifecycledata.Skipped, "legalHold", hold
		return d, nil
	}
	if err := w.Users.EraseContents(ctx, s.bot, s.user); err != nil {
		return d, err
	}
	if _, err := w.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{w.Users.Final(s.bot, s.user)}}); err != nil {
		return d, err
	}
	if err := w.Users.Sweep(ctx, s.bot, s.user, f); err != nil {
		w.Log.WarnContext(ctx, "sweep after erasure failed", "user", s.user, "error", err)
	}
	d.Disposition, d.Records = lifecycledata.Deleted, f.Records
	return d, nil
}

// eraseExports deletes the archives of earlier exports of the person.
func (w *RequestWorker) eraseExports(ctx context.Context, req *lifecycledata.DataRequest, at string) error {
	all, err := w.Requests.OfWorkspace(ctx, req.WorkspaceID)
	if err != nil {
		return err
	}
	var receipt []lifecycledata.Disposition
	for _, earlier := range all {
		if earlier.Type != lifecycledata.RequestExport || earlier.ExportKey == "" || !overlaps(earlier.Users, req.Users) {
			continue
		}
		if _, err := w.Exports.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &w.Bucket, Key: &earlier.ExportKey}); err != nil {
			return fmt.Errorf("erase export %s: %w", earlier.ID, err)
		}
		receipt = append(receipt, lifecycledata.Disposition{ID: earlier.ID, Kind: "export", Disposition: lifecycledata.Deleted, At: at})
		w.count(req, "export", lifecycledata.Deleted, 1)
	}
	if len(receipt) == 0 {
		return nil
	}
	return w.record(ctx, req, "exports", receipt)
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
