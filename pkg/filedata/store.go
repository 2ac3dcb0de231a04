package filedata

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/cursor"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Store keeps file records, key claims, passages and usage in the files
// table.
type Store struct {
	db    ds.Client
	table string
	pages *cursor.Codec
	// Sleep waits between retries of unprocessed batch items.
	Sleep ds.Sleeper
}

// NewStore returns a store on table; pages signs list tokens (nil for the
// worker, which lists nothing).
func NewStore(db ds.Client, table string, pages *cursor.Codec) *Store {
	return &Store{db: db, table: table, pages: pages, Sleep: ds.Sleep}
}

// Errors the API and the worker tell apart.
var (
	// ErrKeyTaken: another file claimed the key first (a concurrent upsert).
	ErrKeyTaken = errors.New("the file key was claimed concurrently")
	// ErrChanged: the file changed (replaced, deleted) since it was read.
	ErrChanged = errors.New("the file changed meanwhile")
	// ErrQuota: the workspace's usage would exceed its limit.
	ErrQuota = errors.New("quota exceeded")
)

func notFound(id string) error { return apperr.NotFound("file", id) }

// File reads a bot's file by id: one consistent GetItem.
func (s *Store) File(ctx context.Context, bot, id string) (File, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: fileKey(bot, id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return File{}, err
	}
	if out.Item == nil {
		return File{}, notFound(id)
	}
	return readFile(out.Item)
}

// FileByKey reads the file holding a key: the claim, then the file (two
// consistent GetItems); found is false when no file has the key.
func (s *Store) FileByKey(ctx context.Context, bot, key string) (File, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: claimKey(bot, key), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		return File{}, false, err
	}
	f, err := s.File(ctx, bot, ds.String(out.Item, "fileId"))
	if apperr.Is(err, apperr.ResourceNotFound) {
		return File{}, false, nil // a claim left by a file being erased
	}
	return f, err == nil, err
}

// Room is a workspace's storage limit a write must stay within.
type Room struct {
	Workspace string
	// Limit is the workspace's file storage quota in bytes.
	Limit int64
}

// CreateFile stores a new file and claims its key, if the workspace's
// measured storage leaves room for its declared size: one
// TransactWriteItems. ErrKeyTaken when the key was claimed meanwhile;
// ErrQuota when there is no room.
func (s *Store) CreateFile(ctx context.Context, f File, room Room) error {
	if f.DeclaredSize > room.Limit {
		return ErrQuota
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: s.claimItem(f), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Put: &types.Put{TableName: &s.table, Item: s.fileItem(f), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{ConditionCheck: &types.ConditionCheck{TableName: &s.table, Key: usageKey(room.Workspace),
			ConditionExpression:       aws.String("attribute_not_exists(storageBytes) OR storageBytes <= :room"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":room": num(room.Limit - f.DeclaredSize)}}},
	}})
	return s.classify(err, ErrKeyTaken, ErrKeyTaken, ErrQuota)
}

func (s *Store) claimItem(f File) map[string]types.AttributeValue {
	item := claimKey(f.BotID, f.Key)
	item["fileId"] = ds.S(f.ID)
	return item
}

// classify maps a cancelled transaction to the error of its first failed
// item (reasons[i] for item i).
func (s *Store) classify(err error, reasons ...error) error {
	if err == nil {
		return nil
	}
	for i, r := range ds.CancellationReasons(err) {
		if r == "ConditionalCheckFailed" && i < len(reasons) && reasons[i] != nil {
			return reasons[i]
		}
	}
	if ds.IsConditionFailed(err) && len(reasons) > 0 {
		return reasons[0]
	}
	return err
}

// ReplaceFile starts a new generation of an existing file (an upsert of its
// key): the record is replaced as long as it is still at old's generation,
// the old content's measured bytes leave its workspace's usage, the new
// declared size must fit the workspace's room, and intent (the erasure of
// the old generation's object, passages and vectors) is recorded: one
// TransactWriteItems. ErrChanged if the file changed meanwhile, ErrQuota
// without room.
func (s *Store) ReplaceFile(ctx context.Context, old, f File, room Room, intent types.TransactWriteItem) error {
	if f.DeclaredSize > room.Limit {
		return ErrQuota
	}
	items := []types.TransactWriteItem{{Put: &types.Put{TableName: &s.table, Item: s.fileItem(f),
		ConditionExpression:       aws.String("#g = :g"),
		ExpressionAttributeNames:  map[string]string{"#g": "gen"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": num(int64(old.Gen))}}}}
	reasons := []error{ErrChanged}
	freed := old.ChargedTo == room.Workspace
	if old.StoredBytes+old.VectorBytes > 0 && old.ChargedTo != "" {
		u := s.usageAdd(old.ChargedTo, -old.StoredBytes, -old.VectorBytes)
		if freed {
			// The same item: the room is checked before the old bytes leave.
			u.Update.ConditionExpression = aws.String("attribute_not_exists(storageBytes) OR storageBytes <= :room")
			u.Update.ExpressionAttributeValues[":room"] = num(room.Limit - f.DeclaredSize + old.StoredBytes)
		}
		items = append(items, u)
		reasons = append(reasons, ErrQuota)
	}
	if !freed || old.StoredBytes+old.VectorBytes == 0 || old.ChargedTo == "" {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: &s.table, Key: usageKey(room.Workspace),
			ConditionExpression:       aws.String("attribute_not_exists(storageBytes) OR storageBytes <= :room"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":room": num(room.Limit - f.DeclaredSize)}}})
		reasons = append(reasons, ErrQuota)
	}
	items = append(items, intent)
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return s.classify(err, reasons...)
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// usageAdd adds to a workspace's measured storage.
func (s *Store) usageAdd(ws string, storage, vectors int64) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: usageKey(ws),
		UpdateExpression:          aws.String("ADD storageBytes :s, vectorBytes :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": num(storage), ":v": num(vectors)}}}
}

// MetadataUpdate changes a file's metadata: tags and metadata merged (a
// nil value removes the key), access policies and expiry replaced when set.
type MetadataUpdate struct {
	Tags           map[string]*string
	Metadata       map[string]any
	AccessPolicies []string
	SetPolicies    bool
	// ExpiresAt: nil keeps it, "" removes it.
	ExpiresAt *string
	At        string
	// Owner, when set, is the integration the caller acts as: only its own
	// files change.
	Owner string
}

// UpdateMetadata applies up: one conditional UpdateItem answering the new
// record.
func (s *Store) UpdateMetadata(ctx context.Context, bot, id string, up MetadataUpdate) (File, error) {
	u := expression.Set(expression.Name("updatedAt"), expression.Value(up.At)).
		Set(expression.Name(ds.GSI1SK), expression.Value(up.At+"#"+id))
	keys := make([]string, 0, len(up.Tags))
	for k := range up.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := up.Tags[k]; v == nil {
			u = u.Remove(expression.Name("tags").AppendName(expression.NameNoDotSplit(k)))
		} else {
			u = u.Set(expression.Name("tags").AppendName(expression.NameNoDotSplit(k)), expression.Value(*v))
		}
	}
	mkeys := make([]string, 0, len(up.Metadata))
	for k := range up.Metadata {
		mkeys = append(mkeys, k)
	}
	sort.Strings(mkeys)
	for _, k := range mkeys {
		if v := up.Metadata[k]; v == nil {
			u = u.Remove(expression.Name("metadata").AppendName(expression.NameNoDotSplit(k)))
		} else {
			u = u.Set(expression.Name("metadata").AppendName(expression.NameNoDotSplit(k)), expression.Value(v))
		}
	}
	if up.SetPolicies {
		u = u.Set(expression.Name("accessPolicies"), expression.Value(up.AccessPolicies))
	}
	if up.ExpiresAt != nil {
		if *up.ExpiresAt == "" {
			u = u.Remove(expression.Name("expiresAt"))
		} else {
			u = u.Set(expression.Name("expiresAt"), expression.Value(*up.ExpiresAt))
		}
	}
	cond := expression.AttributeExists(expression.Name(ds.PK))
	if up.Owner != "" {
		cond = cond.And(expression.Name("owner.name").Equal(expression.Value(up.Owner)))
	}
	expr, err := expression.NewBuilder().WithUpdate(u).WithCondition(cond).Build()
	if err != nil {
		return File{}, err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: fileKey(bot, id),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ReturnValues: types.ReturnValueAllNew})
	if ds.IsConditionFailed(err) {
		return File{}, notFound(id)
	}
	if err != nil {
		return File{}, err
	}
	return readFile(out.Attributes)
}

// DeleteFile removes a file from every read at once: its record (as long as
// it is still at f's generation), its key claim and its measured bytes from
// its workspace's usage, with intent (the erasure of its contents, left to
// the lifecycle worker): one TransactWriteItems.
func (s *Store) DeleteFile(ctx context.Context, f File, intent types.TransactWriteItem) error {
	items := []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &s.table, Key: fileKey(f.BotID, f.ID),
			ConditionExpression: aws.String("#g = :g"), ExpressionAttributeNames: map[string]string{"#g": "gen"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":g": num(int64(f.Gen))}}},
		{Delete: &types.Delete{TableName: &s.table, Key: claimKey(f.BotID, f.Key),
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR fileId = :f"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":f": ds.S(f.ID)}}},
	}
	if f.ChargedTo != "" && f.StoredBytes+f.VectorBytes > 0 {
		items = append(items, s.usageAdd(f.ChargedTo, -f.StoredBytes, -f.VectorBytes))
	}
	items = append(items, intent)
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return s.classify(err, ErrChanged, ErrChanged)
}

// ListFilter narrows and orders a file list.
type ListFilter struct {
	// Tags must all match.
	Tags    map[string]string
	Indexed *bool
	// SortField is createdAt (the table) or updatedAt (gsi1).
	SortField     string
	SortDirection string
	PageSize      int
	// Integration, when set, keeps the files that integration may read: those
	// with the integrations policy and its own.
	Integration string
}

func (f ListFilter) scope(bot string) string {
	keys := make([]string, 0, len(f.Tags))
	for k := range f.Tags {
		keys = append(keys, k+"="+f.Tags[k])
	}
	sort.Strings(keys)
	idx := ""
	if f.Indexed != nil {
		idx = strconv.FormatBool(*f.Indexed)
	}
	return strings.Join([]string{"files", bot, f.SortField, f.SortDirection, idx, f.Integration, strings.Join(keys, "&")}, "|")
}

// condition is the filter of a list page (applied within the page's Query).
func (f ListFilter) condition() (expression.ConditionBuilder, bool) {
	var conds []expression.ConditionBuilder
	keys := make([]string, 0, len(f.Tags))
	for k := range f.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		conds = append(conds, expression.Name("tags").AppendName(expression.NameNoDotSplit(k)).Equal(expression.Value(f.Tags[k])))
	}
	if f.Indexed != nil {
		conds = append(conds, expression.Name("index").Equal(expression.Value(*f.Indexed)))
	}
	if f.Integration != "" {
		conds = append(conds, expression.Contains(expression.Name("accessPolicies"), PolicyIntegrations).
			Or(expression.Name("owner.name").Equal(expression.Value(f.Integration))))
	}
	switch len(conds) {
	case 0:
		return expression.ConditionBuilder{}, false
	case 1:
		return conds[0], true
	}
	return expression.And(conds[0], conds[1], conds[2:]...), true
}

// ListFiles answers a page of a bot's files: one Query (the table by
// creation, gsi1 by update), the filter applied within the page.
func (s *Store) ListFiles(ctx context.Context, bot string, f ListFilter, token string) ([]File, string, error) {
	var key expression.KeyConditionBuilder
	index := ""
	if f.SortField == "updatedAt" {
		index = ds.GSI1
		key = expression.Key(ds.GSI1PK).Equal(expression.Value(filesIndexPK(bot)))
	} else {
		key = expression.Key(ds.PK).Equal(expression.Value(botPK(bot))).And(expression.Key(ds.SK).BeginsWith("FILE#"))
	}
	b := expression.NewBuilder().WithKeyCondition(key)
	if cond, ok := f.condition(); ok {
		b = b.WithFilter(cond)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, "", err
	}
	in := &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: aws.Bool(f.SortDirection == "asc")}
	if index != "" {
		in.IndexName = aws.String(index)
	} else {
		in.ConsistentRead = aws.Bool(true)
	}
	page, err := ds.QueryPage(ctx, s.db, s.pages, f.scope(bot), token, f.PageSize, in)
	if err != nil {
		return nil, "", err
	}
	out := make([]File, 0, len(page.Items))
	for _, it := range page.Items {
		fl, err := readFile(it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, fl)
	}
	return out, page.NextToken, nil
}

// Files reads files by id (one BatchGetItem per 100), skipping missing ones.
func (s *Store) Files(ctx context.Context, bot string, ids []string) (map[string]File, error) {
	files, _, err := s.Read(ctx, bot, ids, nil)
	return files, err
}

// Passage is a stored passage of a file's generation.
type Passage struct {
	Content  string `json:"content"`
	Subtype  string `json:"subtype"`
	Page     int    `json:"page,omitempty"`
	Position int    `json:"position"`
	Gen      int    `json:"gen"`
	FileID   string `json:"fileId"`
}

// PassageRef names a passage.
type PassageRef struct {
	FileID   string
	Gen, Pos int
}

// Read reads files and passages of a bot in one batch read (BatchGetItem,
// 100 keys per call): what a search needs after its vector query.
func (s *Store) Read(ctx context.Context, bot string, files []string, passages []PassageRef) (map[string]File, map[PassageRef]Passage, error) {
	var keys []map[string]types.AttributeValue
	seen := map[string]bool{}
	for _, id := range files {
		if !seen[id] {
			seen[id] = true
			keys = append(keys, fileKey(bot, id))
		}
	}
	seenP := map[PassageRef]bool{}
	for _, p := range passages {
		if !seenP[p] && p.Pos >= 0 {
			seenP[p] = true
			keys = append(keys, passageKey(bot, p.FileID, p.Gen, p.Pos))
		}
	}
	fs, ps := map[string]File{}, map[PassageRef]Passage{}
	if len(keys) == 0 {
		return fs, ps, nil
	}
	out, err := ds.BatchGet(ctx, s.db, map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}, s.Sleep)
	if err != nil {
		return nil, nil, err
	}
	for _, it := range out[s.table] {
		if strings.HasPrefix(ds.String(it, ds.SK), "FILE#") {
			f, err := readFile(it)
			if err != nil {
				return nil, nil, err
			}
			fs[f.ID] = f
			continue
		}
		var p Passage
		if err := ds.Unmarshal(it, &p); err != nil {
			return nil, nil, err
		}
		ps[PassageRef{FileID: p.FileID, Gen: p.Gen, Pos: p.Position}] = p
	}
	return fs, ps, nil
}

// Usage is a workspace's measured file storage.
type Usage struct {
	StorageBytes int64 `json:"storageBytes"`
	VectorBytes  int64 `json:"vectorBytes"`
}

// Usage reads a workspace's measured storage: one GetItem.
func (s *Store) Usage(ctx context.Context, ws string) (Usage, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: usageKey(ws), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	if out.Item != nil {
		err = ds.Unmarshal(out.Item, &u)
	}
	return u, err
}

// ---- the worker's transitions

// condGen is the condition that the file is still at f's generation and
// status.
func condGen(f File) (*string, map[string]string, map[string]types.AttributeValue) {
	return aws.String("#g = :g AND #st = :st"), map[string]string{"#g": "gen", "#st": "status"},
		map[string]types.AttributeValue{":g": num(int64(f.Gen)), ":st": ds.S(f.Status)}
}

// SetStatus moves a file from its current status to status (with reason,
// for a failure), if it is still at f's generation and status: one
// conditional UpdateItem. ErrChanged otherwise.
func (s *Store) SetStatus(ctx context.Context, f File, status, reason string, at time.Time) error {
	cond, names, values := condGen(f)
	names["#r"], names["#u"], names["#k"] = "failedStatusReason", "updatedAt", ds.GSI1SK
	values[":new"], values[":u"], values[":k"] = ds.S(status), ds.S(formatTime(at)), ds.S(formatTime(at)+"#"+f.ID)
	update := "SET #st = :new, #u = :u, #k = :k"
	if reason != "" {
		update += ", #r = :r"
		values[":r"] = ds.S(reason)
	} else {
		update += " REMOVE #r"
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: fileKey(f.BotID, f.ID),
		UpdateExpression: aws.String(update), ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values})
	if ds.IsConditionFailed(err) {
		return ErrChanged
	}
	return err
}

// Measured moves a file to status with the bytes the worker measured
// counted in its workspace's usage, if they fit limit: one
// TransactWriteItems. ErrChanged if the file moved on, ErrQuota without
// room (nothing is written then).
func (s *Store) Measured(ctx context.Context, f File, status string, storage, vectors, passages int64, limit int64, at time.Time) error {
	cond, names, values := condGen(f)
	names["#u"], names["#k"], names["#r"] = "updatedAt", ds.GSI1SK, "failedStatusReason"
	values[":new"], values[":u"], values[":k"] = ds.S(status), ds.S(formatTime(at)), ds.S(formatTime(at)+"#"+f.ID)
	values[":sb"], values[":vb"], values[":n"] = num(f.StoredBytes+storage), num(f.VectorBytes+vectors), num(passages)
	usage := s.usageAdd(f.ChargedTo, storage, vectors)
	what := "storageBytes"
	delta := storage
	if vectors > 0 {
		what, delta = "vectorBytes", vectors
	}
	usage.Update.ConditionExpression = aws.String(fmt.Sprintf("attribute_not_exists(%s) OR %s <= :room", what, what))
	usage.Update.ExpressionAttributeValues[":room"] = num(limit - delta)
	if limit-delta < 0 {
		return ErrQuota
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: &s.table, Key: fileKey(f.BotID, f.ID),
			UpdateExpression:    aws.String("SET #st = :new, #u = :u, #k = :k, storedBytes = :sb, vectorBytes = :vb, passages = :n REMOVE #r"),
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values}},
		usage,
	}})
	return s.classify(err, ErrChanged, ErrQuota)
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// PutPassages stores passages of a file's generation (BatchWriteItem, 25
// per call); a retried indexing run overwrites the same keys.
func (s *Store) PutPassages(ctx context.Context, bot string, ps []Passage) error {
	reqs := make([]types.WriteRequest, 0, len(ps))
	for _, p := range ps {
		item := ds.Item(p, map[string]string{ds.PK: passagesPK(bot, p.FileID), ds.SK: passageSK(p.Gen, p.Position)})
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	if len(reqs) == 0 {
		return nil
	}
	return ds.BatchWrite(ctx, s.db, s.table, reqs, s.Sleep)
}

// ErasePassages erases a file's passages, of one generation (gen > 0) or
// all, a page of keys at a time: each page's vector keys go to also first
// (so the vectors go before the passages that name them).
func (s *Store) ErasePassages(ctx context.Context, bot, file string, gen int, also func(vectorKeys []string) error) error {
	cond := expression.Key(ds.PK).Equal(expression.Value(passagesPK(bot, file)))
	if gen > 0 {
		cond = cond.And(expression.Key(ds.SK).BeginsWith(genPrefix(gen)))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(cond).
		WithProjection(expression.NamesList(expression.Name(ds.PK), expression.Name(ds.SK))).Build()
	if err != nil {
		return err
	}
	in := &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true), Limit: aws.Int32(500)}
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return err
		}
		if len(out.Items) > 0 {
			keys := make([]string, 0, len(out.Items))
			reqs := make([]types.WriteRequest, 0, len(out.Items))
			for _, it := range out.Items {
				sk := ds.String(it, ds.SK)
				var g, p int
				if _, err := fmt.Sscanf(sk, "PSG#%04d#%06d", &g, &p); err == nil {
					keys = append(keys, VectorKey(file, g, p))
				}
				reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: ds.Key(ds.String(it, ds.PK), sk)}})
			}
			if also != nil {
				if err := also(keys); err != nil {
					return err
				}
			}
			if err := ds.BatchWrite(ctx, s.db, s.table, reqs, s.Sleep); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// CountPassages counts a file's stored passages (all generations).
func (s *Store) CountPassages(ctx context.Context, bot, file string) (int, error) {
	n := 0
	in := &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S(passagesPK(bot, file))}, Select: types.SelectCount, ConsistentRead: aws.Bool(true)}
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return 0, err
		}
		n += int(out.Count)
		if len(out.LastEvaluatedKey) == 0 {
			return n, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
