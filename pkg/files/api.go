package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/filedata"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/search"
)

// URL lifetimes: uploads and downloads are short-lived; a public file's
// permanent URL redirects to a fresh download URL each time.
const (
	UploadURLTTL   = 15 * time.Minute
	DownloadURLTTL = 15 * time.Minute
	RedirectURLTTL = 5 * time.Minute
)

// IDPrefix starts file ids ("file_01J…").
const IDPrefix = "file"

// Deps are what the API is built from.
type Deps struct {
	Data    Data
	Presign Presigner
	Bucket  string
	Plans   Plans
	Eraser  Eraser
	Jobs    Jobs
	Embed   search.Embedder
	Index   search.VectorIndex
	Auth    *auth.Authenticator
	Clock   clock.Clock
	Log     *slog.Logger
}

// API serves /v1/files*.
type API struct{ d Deps }

// NewAPI returns the Files API.
func NewAPI(d Deps) *API {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &API{d: d}
}

// Register adds the routes to rt.
func (a *API) Register(rt *httpapi.Router) {
	read := a.d.Auth.Require(auth.Bot, auth.FilesRead)
	write := a.d.Auth.Require(auth.Bot, auth.FilesWrite)
	rt.Handle("PUT", "/v1/files", a.upsertFile, write)
	rt.Handle("GET", "/v1/files", a.listFiles, read)
	rt.Handle("GET", "/v1/files/search", a.searchFiles, read)
	rt.Handle("GET", "/v1/files/{id}", a.getFile, read)
	rt.Handle("PUT", "/v1/files/{id}", a.updateFileMetadata, write)
	rt.Handle("DELETE", "/v1/files/{id}", a.deleteFile, write)
	// The permanent URL of a public_content file: no token, a redirect to a
	// fresh presigned download while the file keeps the policy.
	// Public on purpose: the permanent url of a public_content file.
	rt.Handle("GET", "/v1/files/public/{botId}/{id}", a.publicContent, httpapi.Public)
}

// answer is a file as the API answers it.
type answer struct {
	ID                 string            `json:"id"`
	BotID              string            `json:"botId"`
	Key                string            `json:"key"`
	URL                string            `json:"url"`
	Size               *int64            `json:"size"`
	ContentType        string            `json:"contentType"`
	Tags               map[string]string `json:"tags"`
	Metadata           map[string]any    `json:"metadata"`
	CreatedAt          string            `json:"createdAt"`
	UpdatedAt          string            `json:"updatedAt"`
	AccessPolicies     []string          `json:"accessPolicies"`
	Index              bool              `json:"index"`
	Status             string            `json:"status"`
	FailedStatusReason string            `json:"failedStatusReason,omitempty"`
	ExpiresAt          string            `json:"expiresAt,omitempty"`
	Owner              Owner             `json:"owner"`
	IndexingStack      string            `json:"indexingStack,omitempty"`
	UploadURL          string            `json:"uploadUrl,omitempty"`
}

func (a *API) answer(r *http.Request, f File) answer {
	out := answer{ID: f.ID, BotID: f.BotID, Key: f.Key, ContentType: f.ContentType, Tags: f.Tags, Metadata: f.Metadata,
		CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt, AccessPolicies: f.AccessPolicies, Index: f.Index, Status: f.Status,
		FailedStatusReason: f.FailedReason, ExpiresAt: f.ExpiresAt, Owner: f.Owner}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	if out.Metadata == nil {
		out.Metadata = map[string]any{}
	}
	if out.AccessPolicies == nil {
		out.AccessPolicies = []string{}
	}
	if f.Uploaded() {
		size := f.StoredBytes
		out.Size = &size
	}
	if f.Status == filedata.IndexingCompleted {
		out.IndexingStack = "v2"
	}
	if f.HasPolicy(filedata.PolicyPublicContent) {
		out.URL = PublicURL(r, f.BotID, f.ID)
	} else {
		out.URL = a.downloadURL(r.Context(), f, DownloadURLTTL)
	}
	return out
}

// PublicURL is a public file's permanent URL on the API the request came
// through.
func PublicURL(r *http.Request, bot, file string) string {
	scheme := "http"
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = strings.TrimSpace(strings.Split(p, ",")[0])
	} else if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/v1/files/public/" + bot + "/" + file
}

func (a *API) downloadURL(ctx context.Context, f File, ttl time.Duration) string {
	in := &s3.GetObjectInput{Bucket: aws.String(a.d.Bucket), Key: aws.String(filedata.ObjectKey(f.BotID, f.ID, f.Gen))}
	if name := path.Base(f.Key); name != "" && name != "." && name != "/" {
		in.ResponseContentDisposition = aws.String(mime.FormatMediaType("inline", map[string]string{"filename": name}))
	}
	req, err := a.d.Presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		a.d.Log.WarnContext(ctx, "presign download failed", "file", f.ID, "error", err)
		return ""
	}
	return req.URL
}

// uploadURL signs a PUT of exactly the declared size and content type (and
// tagging, when asked): S3 refuses an upload whose Content-Length or
// Content-Type differs from what was signed.
func (a *API) uploadURL(ctx context.Context, f File) (string, error) {
	in := &s3.PutObjectInput{
		Bucket: aws.String(a.d.Bucket), Key: aws.String(filedata.ObjectKey(f.BotID, f.ID, f.Gen)),
		ContentType: aws.String(f.ContentType), ContentLength: aws.Int64(f.DeclaredSize),
	}
	if f.Tagging != "" {
		in.Tagging = aws.String(f.Tagging)
	}
	req, err := a.d.Presign.PresignPutObject(ctx, in, s3.WithPresignExpires(UploadURLTTL))
	if err != nil {
		return "", err
	}
	return req.URL, nil
}

// ---- upsertFile

type upsertInput struct {
	Key                                *string           `json:"key"`
	Size                               *float64          `json:"size"`
	Tags                               map[string]string `json:"tags"`
	Index                              bool              `json:"index"`
	Indexing                           json.RawMessage   `json:"indexing"`
	AccessPolicies                     []string          `json:"accessPolicies"`
	ContentType                        *string           `json:"contentType"`
	ExpiresAt                          *string           `json:"expiresAt"`
	PublicContentImmediatelyAccessible bool              `json:"publicContentImmediatelyAccessible"`
	Metadata                           json.RawMessage   `json:"metadata"`
}

// MaxKeyLength bounds a file key.
const MaxKeyLength = 1000

func validKey(k string) error {
	if strings.TrimSpace(k) == "" {
		return apperr.Invalid("key must not be empty")
	}
	if len(k) > MaxKeyLength {
		return apperr.Invalid("key is %d bytes; at most %d", len(k), MaxKeyLength)
	}
	if strings.IndexFunc(k, unicode.IsControl) >= 0 {
		return apperr.Invalid("key must not contain control characters")
	}
	return nil
}

func validTags(field string, tags map[string]string) error {
	for k, v := range tags {
		if err := validTag(field, k); err != nil {
			return err
		}
		if len(v) > 1000 {
			return apperr.Invalid("%s.%s is %d characters; at most 1000", field, k, len(v))
		}
	}
	return nil
}

func validTag(field, k string) error {
	if strings.TrimSpace(k) == "" || len(k) > 200 || strings.IndexFunc(k, unicode.IsControl) >= 0 {
		return apperr.Invalid("%s has an invalid tag name %q (1 to 200 characters, no control characters)", field, k)
	}
	return nil
}

func validPolicies(field string, ps []string) ([]string, error) {
	seen := map[string]bool{}
	out := []string{}
	for i, p := range ps {
		if p != filedata.PolicyPublicContent && p != filedata.PolicyIntegrations {
			return nil, apperr.Invalid("%s[%d] must be %q or %q, not %q", field, i, filedata.PolicyPublicContent, filedata.PolicyIntegrations, p)
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

func objectOf(field string, raw json.RawMessage) (map[string]any, error) {
	out := map[string]any{}
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, apperr.Invalid("%s must be an object", field)
	}
	return out, nil
}

// expiry checks an expiresAt: ISO 8601, in the future, at most 90 days away.
func expiry(s string, now time.Time) (string, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", apperr.Invalid("expiresAt must be an ISO 8601 date-time, not %q", s)
	}
	if !t.After(now) || t.After(now.Add(90*24*time.Hour)) {
		return "", apperr.Invalid("expiresAt must be in the future and at most 90 days from now")
	}
	return clock.Format(t.Truncate(time.Minute)), nil
}

func (a *API) upsertFile(r *http.Request) (httpapi.Response, error) {
	var in upsertInput
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Key == nil {
		return httpapi.Response{}, apperr.Invalid("key is required")
	}
	if err := validKey(*in.Key); err != nil {
		return httpapi.Response{}, err
	}
	if in.Size == nil {
		return httpapi.Response{}, apperr.Invalid("size is required: the number of bytes you will upload")
	}
	if *in.Size < 0 || *in.Size != float64(int64(*in.Size)) {
		return httpapi.Response{}, apperr.Invalid("size must be a whole number of bytes, 0 or more, not %v", *in.Size)
	}
	if err := validTags("tags", in.Tags); err != nil {
		return httpapi.Response{}, err
	}
	policies, err := validPolicies("accessPolicies", in.AccessPolicies)
	if err != nil {
		return httpapi.Response{}, err
	}
	meta, err := objectOf("metadata", in.Metadata)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := objectOf("indexing", in.Indexing); err != nil {
		return httpapi.Response{}, err
	}
	contentType, err := contentTypeOf(in.ContentType, *in.Key)
	if err != nil {
		return httpapi.Response{}, err
	}
	now := a.d.Clock.Now()
	expires := ""
	if in.ExpiresAt != nil {
		if expires, err = expiry(*in.ExpiresAt, now); err != nil {
			return httpapi.Response{}, err
		}
	}
	ctx := r.Context()
	p := auth.FromContext(ctx)
	size := int64(*in.Size)
	limits, err := a.d.Plans.Limits(ctx, p.WorkspaceID)
	if err != nil {
		return httpapi.Response{}, err
	}
	if size > limits.MaxFileBytes {
		return httpapi.Response{}, apperr.New(apperr.QuotaExceeded, "the file is %d bytes; the %s plan allows files of at most %d bytes", size, limits.Plan, limits.MaxFileBytes)
	}
	if in.Index && size > MaxIndexedBytes {
		return httpapi.Response{}, apperr.New(apperr.LimitExceeded, "files larger than %d MB cannot be indexed; upload it with index: false or split it", MaxIndexedBytes>>20)
	}
	owner := Owner{Type: "bot", ID: p.BotID}
	if p.IntegrationName != "" {
		owner = Owner{Type: "integration", Name: p.IntegrationName}
	}
	f := File{
		BotID: p.BotID, Key: *in.Key, ContentType: contentType, Tags: orEmpty(in.Tags), Metadata: meta,
		CreatedAt: clock.Format(now), UpdatedAt: clock.Format(now), AccessPolicies: policies, Index: in.Index,
		Status: filedata.UploadPending, ExpiresAt: expires, Owner: owner, DeclaredSize: size, ChargedTo: p.WorkspaceID,
	}
	if in.PublicContentImmediatelyAccessible {
		f.Tagging = "public=true"
	}
	room := Room{Workspace: p.WorkspaceID, Limit: limits.StorageBytes}
	var saved File
	for attempt := 0; ; attempt++ {
		if attempt == maxAttempts {
			return httpapi.Response{}, apperr.New(apperr.ResourceLockedConflict, "the file %q is being changed by other requests; retry", f.Key)
		}
		if attempt > 0 {
			backoff(ctx, attempt)
		}
		old, found, err := a.d.Data.FileByKey(ctx, p.BotID, f.Key)
		if err != nil {
			return httpapi.Response{}, err
		}
		if !found {
			saved = f
			saved.ID, saved.Gen = id.NewAt(IDPrefix, now), 1
			err = a.d.Data.CreateFile(ctx, saved, room)
		} else {
			if !owns(p, old) {
				return httpapi.Response{}, apperr.New(apperr.Forbidden, "the key %q belongs to a file this integration does not own", f.Key)
			}
			saved = f
			saved.ID, saved.Gen, saved.CreatedAt = old.ID, old.Gen+1, old.CreatedAt
			err = a.d.Data.ReplaceFile(ctx, old, saved, room, a.d.Eraser.EraseIntent(p.BotID, filedata.KindFile, filedata.GenerationID(old.ID, old.Gen), now))
			if err == nil {
				a.kick(ctx, p.BotID, filedata.GenerationID(old.ID, old.Gen))
			}
		}
		switch {
		case errors.Is(err, filedata.ErrKeyTaken), errors.Is(err, filedata.ErrChanged):
			continue // another upsert of the key won the race: apply this one after it
		case errors.Is(err, filedata.ErrQuota):
			return httpapi.Response{}, apperr.New(apperr.QuotaExceeded, "the workspace's file storage quota (%d bytes on the %s plan) leaves no room for %d more bytes", limits.StorageBytes, limits.Plan, size)
		case err != nil:
			return httpapi.Response{}, err
		}
		break
	}
	out := a.answer(r, saved)
	if out.UploadURL, err = a.uploadURL(ctx, saved); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"file": out}), nil
}

// maxAttempts bounds how often a write that lost a race to a concurrent
// change of the same file is tried again.
const maxAttempts = 8

// backoff waits a little, more after each lost race, with jitter so that
// racing requests spread out.
func backoff(ctx context.Context, attempt int) {
	d := time.Duration(attempt)*5*time.Millisecond + time.Duration(rand.IntN(10))*time.Millisecond
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// MaxIndexedBytes bounds what is indexed (Botpress's limit is 95 MB).
const MaxIndexedBytes = 95 << 20

func (a *API) kick(ctx context.Context, bot, eraseID string) {
	if err := a.d.Eraser.Kick(ctx, bot, filedata.KindFile, eraseID); err != nil {
		// The intent is recorded; the next off-peak window erases it.
		a.d.Log.WarnContext(ctx, "erase kick failed", "request_id", httpapi.RequestID(ctx), "bot", bot, "id", eraseID, "error", err)
	}
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// owns reports whether the caller may change f: a bot's own caller always,
// an integration only its own files.
func owns(p auth.Principal, f File) bool {
	return p.IntegrationName == "" || (f.Owner.Type == "integration" && f.Owner.Name == p.IntegrationName)
}

// visible reports whether the caller may read f: integrations read files
// with the integrations policy and their own.
func visible(p auth.Principal, f File) bool {
	return owns(p, f) || f.HasPolicy(filedata.PolicyIntegrations)
}

// ---- get, update, delete, list

// resolve finds a file by id or, failing that, by key (the API takes
// either in the path).
func (a *API) resolve(ctx context.Context, p auth.Principal, idOrKey string) (File, error) {
	if strings.HasPrefix(idOrKey, IDPrefix+"_") && id.Valid(idOrKey) {
		f, err := a.d.Data.File(ctx, p.BotID, idOrKey)
		if err == nil {
			return a.check(p, f, idOrKey)
		}
		if !apperr.Is(err, apperr.ResourceNotFound) {
			return File{}, err
		}
	}
	f, found, err := a.d.Data.FileByKey(ctx, p.BotID, idOrKey)
	if err != nil {
		return File{}, err
	}
	if !found {
		return File{}, apperr.NotFound("file", idOrKey)
	}
	return a.check(p, f, idOrKey)
}

func (a *API) check(p auth.Principal, f File, asked string) (File, error) {
	if !visible(p, f) {
		return File{}, apperr.NotFound("file", asked)
	}
	return f, nil
}

func (a *API) getFile(r *http.Request) (httpapi.Response, error) {
	f, err := a.resolve(r.Context(), auth.FromContext(r.Context()), r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"file": a.answer(r, f)}), nil
}

type nullableString struct {
	set   bool
	value *string
}

func (n *nullableString) UnmarshalJSON(b []byte) error {
	n.set = true
	if string(b) == "null" {
		return nil
	}
	return json.Unmarshal(b, &n.value)
}

func (a *API) updateFileMetadata(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Tags           map[string]*string `json:"tags"`
		AccessPolicies *[]string          `json:"accessPolicies"`
		Metadata       json.RawMessage    `json:"metadata"`
		ExpiresAt      nullableString     `json:"expiresAt"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	for k, v := range in.Tags {
		if err := validTag("tags", k); err != nil {
			return httpapi.Response{}, err
		}
		if v != nil && len(*v) > 1000 {
			return httpapi.Response{}, apperr.Invalid("tags.%s is %d characters; at most 1000", k, len(*v))
		}
	}
	now := a.d.Clock.Now()
	up := MetadataUpdate{Tags: in.Tags, At: clock.Format(now)}
	if in.AccessPolicies != nil {
		ps, err := validPolicies("accessPolicies", *in.AccessPolicies)
		if err != nil {
			return httpapi.Response{}, err
		}
		up.AccessPolicies, up.SetPolicies = ps, true
	}
	if len(in.Metadata) > 0 && string(in.Metadata) != "null" {
		if err := json.Unmarshal(in.Metadata, &up.Metadata); err != nil || up.Metadata == nil {
			return httpapi.Response{}, apperr.Invalid("metadata must be an object")
		}
	}
	if in.ExpiresAt.set {
		v := ""
		if in.ExpiresAt.value != nil {
			var err error
			if v, err = expiry(*in.ExpiresAt.value, now); err != nil {
				return httpapi.Response{}, err
			}
		}
		up.ExpiresAt = &v
	}
	ctx := r.Context()
	p := auth.FromContext(ctx)
	f, err := a.resolve(ctx, p, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if !owns(p, f) {
		return httpapi.Response{}, apperr.New(apperr.Forbidden, "this integration may read the file but not change it")
	}
	if p.IntegrationName != "" {
		up.Owner = p.IntegrationName
	}
	updated, err := a.d.Data.UpdateMetadata(ctx, p.BotID, f.ID, up)
	if err != nil {
		return httpapi.Response{}, err
	}
	if len(in.Tags) > 0 && updated.Index && a.d.Jobs != nil {
		// The passages' vectors carry the tags searchFiles filters on.
		if err := a.d.Jobs.Retag(ctx, p.BotID, f.ID); err != nil {
			a.d.Log.WarnContext(ctx, "retag not queued", "request_id", httpapi.RequestID(ctx), "file", f.ID, "error", err)
		}
	}
	return httpapi.OK(map[string]any{"file": a.answer(r, updated)}), nil
}

func (a *API) deleteFile(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	p := auth.FromContext(ctx)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			backoff(ctx, attempt)
		}
		f, err := a.resolve(ctx, p, r.PathValue("id"))
		if err != nil {
			return httpapi.Response{}, err
		}
		if !owns(p, f) {
			return httpapi.Response{}, apperr.New(apperr.Forbidden, "this integration may read the file but not delete it")
		}
		err = a.d.Data.DeleteFile(ctx, f, a.d.Eraser.EraseIntent(p.BotID, filedata.KindFile, f.ID, a.d.Clock.Now()))
		if errors.Is(err, filedata.ErrChanged) {
			continue
		}
		if err != nil {
			return httpapi.Response{}, err
		}
		a.kick(ctx, p.BotID, f.ID)
		return httpapi.OK(struct{}{}), nil
	}
	return httpapi.Response{}, apperr.New(apperr.ResourceLockedConflict, "the file is being changed by other requests; retry")
}

// tagsQuery reads a tags filter: tags.k=v (as @botpress/client sends it)
// or tags={"k":"v"} (a URL-encoded JSON object).
func tagsQuery(r *http.Request) (map[string]string, error) {
	q := httpapi.QueryOf(r)
	tags := q.Map("tags")
	if raw := q.String("tags"); raw != "" {
		var m map[string]string
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return nil, apperr.New(apperr.InvalidQuery, "tags must be a JSON object of strings, or tags.<name>=<value> parameters")
		}
		for k, v := range m {
			tags[k] = v
		}
	}
	for k := range tags {
		if err := validTag("tags", k); err != nil {
			return nil, apperr.New(apperr.InvalidQuery, "%s", apperr.As(err).Message)
		}
	}
	return tags, nil
}

func (a *API) listFiles(r *http.Request) (httpapi.Response, error) {
	q := httpapi.QueryOf(r)
	ctx := r.Context()
	p := auth.FromContext(ctx)
	tags, err := tagsQuery(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	f := ListFilter{Tags: tags, Integration: p.IntegrationName}
	if f.SortField, err = q.Enum("sortField", "createdAt", "createdAt", "updatedAt", "key", "size", "status"); err != nil {
		return httpapi.Response{}, err
	}
	if f.SortField != "createdAt" && f.SortField != "updatedAt" {
		return httpapi.Response{}, apperr.New(apperr.InvalidQuery, "sortField %q is not supported: sort by createdAt or updatedAt", f.SortField)
	}
	if f.SortDirection, err = q.Enum("sortDirection", "desc", "asc", "desc"); err != nil {
		return httpapi.Response{}, err
	}
	if f.Indexed, err = q.Bool("indexed"); err != nil {
		return httpapi.Response{}, err
	}
	if f.PageSize, err = q.Int("pageSize", 20, 1, 100); err != nil {
		return httpapi.Response{}, err
	}
	if ids := q.Strings("ids"); len(ids) > 0 {
		return a.listByIDs(r, p, ids, f)
	}
	list, next, err := a.d.Data.ListFiles(ctx, p.BotID, f, q.String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]answer, 0, len(list))
	for _, fl := range list {
		out = append(out, a.answer(r, fl))
	}
	return httpapi.OK(httpapi.List("files", out, next)), nil
}

// listByIDs answers the files among ids (at most 50) that match the other
// filters: one batch read, no further pages.
func (a *API) listByIDs(r *http.Request, p auth.Principal, ids []string, f ListFilter) (httpapi.Response, error) {
	if len(ids) > 50 {
		return httpapi.Response{}, apperr.New(apperr.InvalidQuery, "ids holds %d ids; at most 50", len(ids))
	}
	files, err := a.d.Data.Files(r.Context(), p.BotID, ids)
	if err != nil {
		return httpapi.Response{}, err
	}
	list := make([]File, 0, len(files))
	for _, fl := range files {
		if visible(p, fl) && tagsMatch(fl.Tags, f.Tags) && (f.Indexed == nil || fl.Index == *f.Indexed) {
			list = append(list, fl)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		ki, kj := list[i].ID, list[j].ID
		if f.SortField == "updatedAt" {
			ki, kj = list[i].UpdatedAt+ki, list[j].UpdatedAt+kj
		}
		return (ki < kj) == (f.SortDirection == "asc")
	})
	out := make([]answer, 0, len(list))
	for _, fl := range list {
		out = append(out, a.answer(r, fl))
	}
	return httpapi.OK(httpapi.List("files", out, "")), nil
}

func tagsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// ---- the public URL

func (a *API) publicContent(r *http.Request) (httpapi.Response, error) {
	bot, file := r.PathValue("botId"), r.PathValue("id")
	if !id.Valid(bot) || !id.Valid(file) {
		return httpapi.Response{}, apperr.NotFound("file", file)
	}
	f, err := a.d.Data.File(r.Context(), bot, file)
	if err != nil {
		return httpapi.Response{}, err
	}
	if !f.HasPolicy(filedata.PolicyPublicContent) || !f.Uploaded() {
		// A file that isn't public reads as missing, so ids don't leak.
		return httpapi.Response{}, apperr.NotFound("file", file)
	}
	u := a.downloadURL(r.Context(), f, RedirectURLTTL)
	if u == "" {
		return httpapi.Response{}, errors.New("presign failed")
	}
	return httpapi.Redirect(u), nil
}

// TagToken is how a tag is written in a vector's metadata and matched by
// searchFiles' filter: "name\x1fvalue", or a digest of a long value (S3
// Vectors bounds filterable metadata).
func TagToken(k, v string) string {
	t := k + "\x1f" + v
	if len(t) <= 256 {
		return t
	}
	sum := sha256.Sum256([]byte(v))
	return k + "\x1f#" + hex.EncodeToString(sum[:16])
}

// TagTokens lists a file's tag tokens, sorted.
func TagTokens(tags map[string]string) []string {
	out := make([]string, 0, len(tags))
	for k, v := range tags {
		out = append(out, TagToken(k, v))
	}
	sort.Strings(out)
	return out
}
