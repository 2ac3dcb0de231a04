package admindata

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
)

// Objects is the part of S3 the admin store uses for bot code and medias.
type Objects interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Presigner signs GET URLs for stored medias (no round trip).
type Presigner interface {
	PresignGetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

var _ Objects = (*s3.Client)(nil)
var _ Presigner = (*s3.PresignClient)(nil)

// botObjectsPrefix is where a bot's code and medias are kept.
func botObjectsPrefix(bot string) string { return "bots/" + bot + "/" }

var errNoBucket = errors.New("admin: no code bucket configured")

// mediaURLTTL is how long a media's presigned URL in a bot answer works.
const mediaURLTTL = time.Hour

// s3Scheme marks a media stored in the code bucket: "s3:<key>".
const s3Scheme = "s3:"

// putCode stores a bot's code under a new versioned key and returns it.
// Code arrives in the JSON body, so the Lambda writes it directly.
func (s *Store) putCode(ctx context.Context, botID, code string, at time.Time) (string, error) {
	if s.opts.Objects == nil {
		return "", errNoBucket
	}
	key := botObjectsPrefix(botID) + "code/" + id.ULID(at) + ".js"
	_, err := s.opts.Objects.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.opts.CodeBucket), Key: aws.String(key), Body: strings.NewReader(code),
		ContentType: aws.String("application/javascript"),
	})
	return key, err
}

// putMedias moves inline medias (data: URLs) to the bucket and keeps only
// their keys; medias given by http(s) URL stay references. It returns the
// medias as stored and the keys written (to remove if the write fails).
func (s *Store) putMedias(ctx context.Context, botID string, medias []Media, at time.Time) ([]Media, []string, error) {
	out := make([]Media, len(medias))
	var written []string
	for i, m := range medias {
		out[i] = m
		if !strings.HasPrefix(m.URL, "data:") {
			continue
		}
		meta, payload, ok := strings.Cut(strings.TrimPrefix(m.URL, "data:"), ",")
		if !ok {
			return nil, written, apperr.Invalid("medias[%d].url is a malformed data URL", i)
		}
		ctype, isB64 := strings.CutSuffix(meta, ";base64")
		var body []byte
		var err error
		if isB64 {
			body, err = base64.StdEncoding.DecodeString(payload)
		} else {
			var s string
			s, err = url.PathUnescape(payload)
			body = []byte(s)
		}
		if err != nil {
			return nil, written, apperr.Invalid("medias[%d].url is a malformed data URL", i)
		}
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		if s.opts.Objects == nil {
			return nil, written, errNoBucket
		}
		key := botObjectsPrefix(botID) + "medias/" + id.ULID(at)
		if _, err := s.opts.Objects.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.opts.CodeBucket), Key: aws.String(key), Body: bytes.NewReader(body), ContentType: aws.String(ctype)}); err != nil {
			return nil, written, err
		}
		written = append(written, key)
		out[i].URL = s3Scheme + key
	}
	return out, written, nil
}

// removeObjects deletes objects written for a change that failed. A failure
// is logged with the request id, not returned: the change already failed,
// and an orphan object is unreferenced (the bot purge erases it with the
// bot's other objects).
func (s *Store) removeObjects(ctx context.Context, keys ...string) {
	for _, k := range keys {
		_, err := s.opts.Objects.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.opts.CodeBucket), Key: aws.String(k)})
		if err != nil && s.opts.Log != nil {
			s.opts.Log.WarnContext(ctx, "orphan object left in the code bucket", "request_id", httpapi.RequestID(ctx), "key", k, "error", err)
		}
	}
}

// MediaAnswers turns stored medias into answerable URLs: presigned GETs for
// those in the bucket (computed locally, no round trip).
func (s *Store) MediaAnswers(ctx context.Context, medias []Media) []Media {
	out := make([]Media, len(medias))
	for i, m := range medias {
		out[i] = m
		key, stored := strings.CutPrefix(m.URL, s3Scheme)
		if !stored || s.opts.Presign == nil {
			continue
		}
		req, err := s.opts.Presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.opts.CodeBucket), Key: aws.String(key)}, s3.WithPresignExpires(mediaURLTTL))
		if err == nil {
			out[i].URL = req.URL
		}
	}
	return out
}
