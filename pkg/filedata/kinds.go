package filedata

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/oklog/ulid/v2"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/search"
)

// KindFile is the catalogue kind of files with their search entries: the
// record, its key claim, the content objects of every generation, the
// passages and their vectors. Retention policies govern it as "files".
const KindFile = "file"

// Objects is the part of S3 the file kind erases with.
type Objects interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, opts ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

var _ Objects = (*s3.Client)(nil)

// FileKind is the file kind: lifecycle.Kind, ItemKind and AgedKind.
type FileKind struct {
	store   *Store
	objects Objects
	bucket  string
	vectors search.VectorIndex
}

var _ lifecycle.AgedKind = (*FileKind)(nil)

// NewFileKind returns the file kind on the files table, the files bucket
// and the vector index of passages.
func NewFileKind(db ds.Client, table string, objects Objects, bucket string, vectors search.VectorIndex) *FileKind {
	return &FileKind{store: NewStore(db, table, nil), objects: objects, bucket: bucket, vectors: vectors}
}

// Name implements lifecycle.Kind.
func (k *FileKind) Name() string { return KindFile }

// Purge implements lifecycle.Kind: up to max of the bot's files, each with
// its contents, key claim and usage; then leftover claims; then leftover
// objects (an upload that arrived after its file was deleted).
func (k *FileKind) Purge(ctx context.Context, bot string, max int) (bool, error) {
	if max <= 0 {
		max = 100
	}
	files, err := k.query(ctx, bot, "FILE#", max)
	if err != nil {
		return false, err
	}
	for _, it := range files {
		f, err := readFile(it)
		if err != nil {
			return false, err
		}
		if err := k.EraseContents(ctx, bot, f.ID); err != nil {
			return false, err
		}
		items := []types.TransactWriteItem{
			{Delete: &types.Delete{TableName: &k.store.table, Key: fileKey(bot, f.ID)}},
			{Delete: &types.Delete{TableName: &k.store.table, Key: claimKey(bot, f.Key)}},
		}
		if f.ChargedTo != "" && f.StoredBytes+f.VectorBytes > 0 {
			items = append(items, k.store.usageAdd(f.ChargedTo, -f.StoredBytes, -f.VectorBytes))
		}
		if _, err := k.store.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
			return false, err
		}
	}
	if len(files) > 0 {
		return true, nil
	}
	claims, err := k.query(ctx, bot, "FILEKEY#", max)
	if err != nil || len(claims) > 0 {
		if err == nil {
			reqs := make([]types.WriteRequest, 0, len(claims))
			for _, c := range claims {
				reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: ds.Key(ds.String(c, ds.PK), ds.String(c, ds.SK))}})
			}
			err = ds.BatchWrite(ctx, k.store.db, k.store.table, reqs, k.store.Sleep)
		}
		return err == nil, err
	}
	return k.deleteObjects(ctx, BotObjectPrefix(bot), max)
}

func (k *FileKind) query(ctx context.Context, bot, prefix string, max int) ([]map[string]types.AttributeValue, error) {
	out, err := k.store.db.Query(ctx, &dynamodb.QueryInput{TableName: &k.store.table,
		KeyConditionExpression:    aws.String("pk = :p AND begins_with(sk, :s)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S(botPK(bot)), ":s": ds.S(prefix)},
		ConsistentRead:            aws.Bool(true), Limit: aws.Int32(int32(max))})
	if err != nil {
		return nil, err
	}
	return out.Items, nil
}

// deleteObjects deletes up to max (at most 1,000) objects under prefix:
// one listing and one DeleteObjects; more is true when it deleted any.
func (k *FileKind) deleteObjects(ctx context.Context, prefix string, max int) (bool, error) {
	if k.objects == nil {
		return false, nil
	}
	page, err := k.objects.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &k.bucket, Prefix: &prefix, MaxKeys: aws.Int32(int32(min(max, 1000)))})
	if err != nil {
		return false, err
	}
	if len(page.Contents) == 0 {
		return false, nil
	}
	ids := make([]s3types.ObjectIdentifier, 0, len(page.Contents))
	for _, o := range page.Contents {
		ids = append(ids, s3types.ObjectIdentifier{Key: o.Key})
	}
	out, err := k.objects.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &k.bucket, Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
	if err != nil {
		return false, err
	}
	if len(out.Errors) > 0 {
		return false, fmt.Errorf("%d objects of %s not deleted: %s", len(out.Errors), prefix, aws.ToString(out.Errors[0].Message))
	}
	return true, nil
}

// secondary is what a file's plan keeps for Sweep: its key and what its
// workspace's usage counts for it.
type secondary struct {
	Key     string `json:"k"`
	Charged string `json:"w,omitempty"`
	Stored  int64  `json:"s,omitempty"`
	Vectors int64  `json:"v,omitempty"`
}

func factsOf(f File) lifecycle.Facts {
	created, _ := clock.Parse(f.CreatedAt)
	updated, _ := clock.Parse(f.UpdatedAt)
	sec, _ := json.Marshal(secondary{Key: f.Key, Charged: f.ChargedTo, Stored: f.StoredBytes, Vectors: f.VectorBytes})
	return lifecycle.Facts{
		Found: true, Held: f.Tags["legalHold"] == "true", CreatedAt: created, UpdatedAt: updated,
		Attrs:   map[string]string{"contentType": f.ContentType, "status": f.Status, "key": f.Key},
		Tags:    f.Tags,
		Records: 1 + f.Passages, Secondary: string(sec),
	}
}

// Inspect implements lifecycle.ItemKind: one BatchGetItem (per 100).
func (k *FileKind) Inspect(ctx context.Context, bot string, ids []string) (map[string]lifecycle.Facts, error) {
	files, err := k.store.Files(ctx, bot, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]lifecycle.Facts, len(files))
	for id, f := range files {
		out[id] = factsOf(f)
	}
	return out, nil
}

// Export implements lifecycle.ItemKind: the record, then its current
// passages (the text that was indexed), a page at a time. The content
// object itself is not copied into the archive.
func (k *FileKind) Export(ctx context.Context, bot, id string, w lifecycle.LineWriter) error {
	out, err := k.store.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &k.store.table, Key: fileKey(bot, id), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		return err
	}
	if err := w.WriteLine(line("file", out.Item)); err != nil {
		return err
	}
	in := &dynamodb.QueryInput{TableName: &k.store.table, KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S(passagesPK(bot, id))}, ConsistentRead: aws.Bool(true), Limit: aws.Int32(200)}
	for {
		page, err := k.store.db.Query(ctx, in)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			if err := w.WriteLine(line("passage", it)); err != nil {
				return err
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

func line(typ string, item map[string]types.AttributeValue) lifecycle.Line {
	data := map[string]any{}
	_ = attributevalue.UnmarshalMap(item, &data)
	sk := ds.String(item, ds.SK)
	for _, a := range []string{ds.PK, ds.SK, ds.GSI1PK, ds.GSI1SK} {
		delete(data, a)
	}
	return lifecycle.Line{Kind: KindFile, Type: typ, Key: sk, Data: data}
}

// EraseContents implements lifecycle.ItemKind: the passages and their
// vectors (a page at a time, vectors first) and the content objects, of
// every generation of the file, or of one when id is "<file>@<gen>".
func (k *FileKind) EraseContents(ctx context.Context, bot, id string) error {
	file, gen := parseEraseID(id)
	if err := k.store.ErasePassages(ctx, bot, file, gen, func(keys []string) error {
		if k.vectors == nil || len(keys) == 0 {
			return nil
		}
		return k.vectors.Delete(ctx, keys)
	}); err != nil {
		return err
	}
	if k.objects == nil {
		return nil
	}
	if gen > 0 {
		_, err := k.objects.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &k.bucket, Key: aws.String(ObjectKey(bot, file, gen))})
		return err
	}
	for {
		more, err := k.deleteObjects(ctx, ObjectPrefix(bot, file), 1000)
		if err != nil || !more {
			return err
		}
	}
}

// Final implements lifecycle.ItemKind: the record's deletion.
func (k *FileKind) Final(bot, id string) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{TableName: &k.store.table, Key: fileKey(bot, id)}}
}

// Sweep implements lifecycle.ItemKind: after the record is gone, its key
// claim (unless a new file took the key), its bytes from its workspace's
// usage (as planned), and anything an indexing run wrote meanwhile.
func (k *FileKind) Sweep(ctx context.Context, bot, id string, f lifecycle.Facts) error {
	file, gen := parseEraseID(id)
	if gen > 0 {
		return nil
	}
	var sec secondary
	if f.Secondary != "" {
		if err := json.Unmarshal([]byte(f.Secondary), &sec); err != nil {
			return err
		}
	}
	if sec.Key != "" {
		_, err := k.store.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &k.store.table, Key: claimKey(bot, sec.Key),
			ConditionExpression:       aws.String("fileId = :f"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":f": ds.S(file)}})
		if err != nil && !ds.IsConditionFailed(err) {
			return err
		}
	}
	if sec.Charged != "" && sec.Stored+sec.Vectors > 0 {
		u := k.store.usageAdd(sec.Charged, -sec.Stored, -sec.Vectors).Update
		if _, err := k.store.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: u.TableName, Key: u.Key,
			UpdateExpression: u.UpdateExpression, ExpressionAttributeValues: u.ExpressionAttributeValues}); err != nil {
			return err
		}
	}
	return k.EraseContents(ctx, bot, file)
}

// Due implements lifecycle.AgedKind: files created at or before cutoff by
// the key range of their time-ordered ids, or updated at or before it on
// gsi1. Never a scan.
func (k *FileKind) Due(ctx context.Context, bot, basis string, cutoff time.Time, page func([]lifecycle.Candidate) error) (int, error) {
	var cond expression.KeyConditionBuilder
	in := &dynamodb.QueryInput{TableName: &k.store.table}
	if basis == lifecycle.BasisCreated {
		cond = expression.Key(ds.PK).Equal(expression.Value(botPK(bot))).
			And(expression.Key(ds.SK).Between(expression.Value("FILE#file_"), expression.Value("FILE#file_"+ulidUpTo(cutoff))))
		in.ConsistentRead = aws.Bool(true)
	} else {
		in.IndexName = aws.String(ds.GSI1)
		cond = expression.Key(ds.GSI1PK).Equal(expression.Value(filesIndexPK(bot))).
			And(expression.Key(ds.GSI1SK).LessThanEqual(expression.Value(clock.Format(cutoff) + "#~")))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(cond).Build()
	if err != nil {
		return 0, err
	}
	in.KeyConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues = expr.KeyCondition(), expr.Names(), expr.Values()
	read := 0
	for {
		out, err := k.store.db.Query(ctx, in)
		if err != nil {
			return read, err
		}
		read += int(out.ScannedCount)
		var cands []lifecycle.Candidate
		for _, it := range out.Items {
			f, err := readFile(it)
			if err != nil {
				return read, err
			}
			facts := factsOf(f)
			t := facts.UpdatedAt
			if basis == lifecycle.BasisCreated {
				t = facts.CreatedAt
			}
			if t.IsZero() || t.After(cutoff) {
				continue
			}
			cands = append(cands, lifecycle.Candidate{ID: f.ID, Facts: facts})
		}
		if len(cands) > 0 {
			if err := page(cands); err != nil {
				return read, err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return read, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// ulidUpTo is the greatest ULID of cutoff's millisecond.
func ulidUpTo(cutoff time.Time) string {
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(cutoff))
	return u.String()[:10] + strings.Repeat("Z", 16)
}
