package files

import (
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/filedata"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/search"
)

// Search bounds.
const (
	DefaultSearchLimit = 10
	MaxSearchLimit     = 50
	MaxContextDepth    = 10
	// overFetch is how many more vectors than passages a search asks for,
	// so passages dropped by the live checks (a file replaced or deleted
	// since, another integration's file) don't shorten the answer.
	overFetch = 2
)

type passageAnswer struct {
	Content string         `json:"content"`
	Score   float32        `json:"score"`
	Meta    passageMeta    `json:"meta"`
	File    passageFile    `json:"file"`
	Context []contextEntry `json:"context,omitempty"`
}

type passageMeta struct {
	Type       string `json:"type"`
	Subtype    string `json:"subtype,omitempty"`
	PageNumber int    `json:"pageNumber,omitempty"`
	Position   int    `json:"position"`
}

type passageFile struct {
	ID          string            `json:"id"`
	Key         string            `json:"key"`
	ContentType string            `json:"contentType"`
	Metadata    map[string]any    `json:"metadata"`
	Tags        map[string]string `json:"tags"`
	CreatedAt   string            `json:"createdAt"`
	UpdatedAt   string            `json:"updatedAt"`
}

type contextEntry struct {
	Text   string `json:"text"`
	Offset int    `json:"offset"`
	Type   string `json:"type"`
}

// subtypes the API knows; anything else is answered as a paragraph.
var subtypes = map[string]bool{"title": true, "subtitle": true, "paragraph": true, "blockquote": true, "list": true, "table": true, "code": true}

// searchFiles embeds the query, makes one vector query (filtered by bot
// and tags) and one batch read of the hits' files and passages with their
// neighbours: O(limit × contextDepth) reads, whatever the number of files.
func (a *API) searchFiles(r *http.Request) (httpapi.Response, error) {
	q := httpapi.QueryOf(r)
	query := strings.TrimSpace(q.String("query"))
	if query == "" {
		return httpapi.Response{}, apperr.New(apperr.InvalidQuery, "query is required: the question to find passages for")
	}
	if len(query) > 10000 {
		return httpapi.Response{}, apperr.New(apperr.InvalidQuery, "query is %d characters; at most 10000", len(query))
	}
	limit, err := q.Int("limit", DefaultSearchLimit, 1, MaxSearchLimit)
	if err != nil {
		return httpapi.Response{}, err
	}
	depth, err := q.Int("contextDepth", 0, 0, MaxContextDepth)
	if err != nil {
		return httpapi.Response{}, err
	}
	tags, err := tagsQuery(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	withContext, err := q.Bool("withContext")
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	p := auth.FromContext(ctx)
	vecs, err := a.d.Embed.Embed(ctx, []string{query})
	if err != nil {
		return httpapi.Response{}, err
	}
	hits, err := a.d.Index.Query(ctx, vecs[0], limit*overFetch, Filter(p.BotID, tags))
	if err != nil {
		return httpapi.Response{}, err
	}
	type hit struct {
		ref   PassageRef
		score float32
	}
	var found []hit
	var fileIDs []string
	var refs []PassageRef
	for _, h := range hits {
		file, gen, pos, ok := filedata.ParseVectorKey(h.Key)
		if !ok {
			continue
		}
		found = append(found, hit{PassageRef{FileID: file, Gen: gen, Pos: pos}, h.Score})
		fileIDs = append(fileIDs, file)
		for d := -depth; d <= depth; d++ {
			refs = append(refs, PassageRef{FileID: file, Gen: gen, Pos: pos + d})
		}
	}
	files, passages, err := a.d.Data.Read(ctx, p.BotID, fileIDs, refs)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []passageAnswer{}
	for _, h := range found {
		f, ok := files[h.ref.FileID]
		ps, okP := passages[h.ref]
		// The live record decides: a replaced generation, a file being
		// re-tagged or one the caller may not read is left out.
		if !ok || !okP || f.Gen != h.ref.Gen || f.Status != filedata.IndexingCompleted || !tagsMatch(f.Tags, tags) || !visible(p, f) {
			continue
		}
		var parts []string
		var context []contextEntry
		for d := -depth; d <= depth; d++ {
			n, ok := passages[PassageRef{FileID: h.ref.FileID, Gen: h.ref.Gen, Pos: h.ref.Pos + d}]
			if !ok {
				continue
			}
			parts = append(parts, n.Content)
			typ := "current"
			if d < 0 {
				typ = "preceding"
			} else if d > 0 {
				typ = "subsequent"
			}
			context = append(context, contextEntry{Text: n.Content, Offset: d, Type: typ})
		}
		sub := ps.Subtype
		if !subtypes[sub] {
			sub = "paragraph"
		}
		ans := passageAnswer{
			Content: strings.Join(parts, "\n\n"), Score: h.score,
			Meta: passageMeta{Type: "chunk", Subtype: sub, PageNumber: ps.Page, Position: ps.Position},
			File: passageFile{ID: f.ID, Key: f.Key, ContentType: f.ContentType, Metadata: f.Metadata, Tags: f.Tags, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt},
		}
		if withContext != nil && *withContext {
			ans.Context = context
		}
		out = append(out, ans)
		if len(out) == limit {
			break
		}
	}
	return httpapi.OK(map[string]any{"passages": out}), nil
}

// Filter is the vector filter of a bot's passages carrying every tag.
func Filter(bot string, tags map[string]string) search.Filter {
	f := search.Filter{"bot": bot}
	tokens := TagTokens(tags)
	switch len(tokens) {
	case 0:
	case 1:
		f["tags"] = map[string]any{"$eq": tokens[0]}
	default:
		and := make([]any, 0, len(tokens))
		for _, t := range tokens {
			and = append(and, map[string]any{"tags": map[string]any{"$eq": t}})
		}
		f["$and"] = and
	}
	return f
}

// contentTypes completes Go's own table for what files usually are.
var contentTypes = map[string]string{
	".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown", ".csv": "text/csv",
	".json": "application/json", ".pdf": "application/pdf", ".html": "text/html", ".htm": "text/html",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".doc":  "application/msword", ".xls": "application/vnd.ms-excel", ".ppt": "application/vnd.ms-powerpoint",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
	".svg": "image/svg+xml", ".mp3": "audio/mpeg", ".mp4": "video/mp4", ".zip": "application/zip", ".xml": "application/xml",
}

// contentTypeOf checks a given content type, or infers one from the key's
// extension (application/octet-stream when none fits).
func contentTypeOf(given *string, key string) (string, error) {
	if given != nil && *given != "" {
		if _, _, err := mime.ParseMediaType(*given); err != nil || len(*given) > 200 {
			return "", apperr.Invalid("contentType %q is not a valid MIME type", *given)
		}
		return *given, nil
	}
	ext := strings.ToLower(path.Ext(key))
	if t, ok := contentTypes[ext]; ok {
		return t, nil
	}
	if t := mime.TypeByExtension(ext); t != "" && ext != "" {
		return t, nil
	}
	return "application/octet-stream", nil
}
