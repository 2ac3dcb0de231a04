package testenv

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors"
	"github.com/parley-dev/parley/pkg/topology"
)

// Stored is one thing the stack keeps: a DynamoDB item, an S3 object or a
// vector, with its text (the item as JSON; the object's key and content,
// zip entries unpacked; the vector's key and metadata).
type Stored struct {
	// Where is "TABLE_CHAT pk / sk", "BUCKET_FILES key", "VECTORS_PASSAGES key".
	Where string
	Text  string
	// Item is the DynamoDB item (nil for objects and vectors).
	Item map[string]types.AttributeValue
}

// Everything reads every table, bucket and vector index of the stack
// directly (a test's Scan), for tests that must show what is left of
// someone's data anywhere.
func (e *Env) Everything(t testing.TB) []Stored {
	t.Helper()
	ctx := context.Background()
	var out []Stored
	db := dynamodb.NewFromConfig(e.AWS)
	s3c := s3.NewFromConfig(e.AWS, func(o *s3.Options) { o.UsePathStyle = true })
	for name, res := range e.Env {
		switch {
		case strings.HasPrefix(name, "TABLE_"):
			pages := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(res)})
			for pages.HasMorePages() {
				page, err := pages.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range page.Items {
					var doc map[string]any
					if err := attributevalue.UnmarshalMap(it, &doc); err != nil {
						t.Fatal(err)
					}
					raw, _ := json.Marshal(doc)
					out = append(out, Stored{Where: name + " " + str(it["pk"]) + " / " + str(it["sk"]), Text: string(raw), Item: it})
				}
			}
		case strings.HasPrefix(name, "BUCKET_"):
			pages := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String(res)})
			for pages.HasMorePages() {
				page, err := pages.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range page.Contents {
					obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(res), Key: o.Key})
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(obj.Body)
					obj.Body.Close()
					out = append(out, Stored{Where: name + " " + aws.ToString(o.Key), Text: aws.ToString(o.Key) + "\n" + string(body) + unzipped(body)})
				}
			}
		case strings.HasPrefix(name, "VECTORS_"):
			bucket, index, _ := topology.SplitVectorLocation(res)
			pages := s3vectors.NewListVectorsPaginator(s3vectors.NewFromConfig(e.AWS), &s3vectors.ListVectorsInput{
				VectorBucketName: aws.String(bucket), IndexName: aws.String(index), ReturnMetadata: true})
			for pages.HasMorePages() {
				page, err := pages.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range page.Vectors {
					var meta map[string]any
					if v.Metadata != nil {
						if err := v.Metadata.UnmarshalSmithyDocument(&meta); err != nil {
							t.Fatal(err)
						}
					}
					raw, _ := json.Marshal(meta)
					out = append(out, Stored{Where: name + " " + aws.ToString(v.Key), Text: aws.ToString(v.Key) + "\n" + string(raw)})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Where < out[j].Where })
	return out
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// unzipped is the text of a zip's entries ("" for anything else).
func unzipped(b []byte) string {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return ""
	}
	var sb strings.Builder
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			continue
		}
		raw, _ := io.ReadAll(rc)
		rc.Close()
		sb.Write(raw)
	}
	return sb.String()
}
