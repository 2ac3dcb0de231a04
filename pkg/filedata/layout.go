// Package filedata owns the files table's layout and the files bucket's
// object keys: it is the only package that builds or parses them. It keeps
// a bot's file records, the claims that make a key unique per bot, the
// passages of indexed files, each workspace's measured file and vector
// storage, and registers the file kind in the lifecycle catalogue
// (kinds.go). The Files API (pkg/files) reaches it through interfaces it
// declares; filedata never imports a feature package.
//
//	file       BOT#<bot>              FILE#<file>            gsi1: BOT#<bot>#FILES / <updatedAt>#<file>
//	key claim  BOT#<bot>              FILEKEY#<sha256(key)>  → fileId (one file per key and bot)
//	passage    BOT#<bot>#FILE#<file>  PSG#<gen>#<position>   content, page, subtype (gen: 4 digits, position: 6)
//	usage      WS#<workspace>         FILES#USAGE            storageBytes, vectorBytes (measured by the worker)
//
// A file's content has a generation: each upsert of its key starts a new
// one, uploaded to its own object (bots/<bot>/files/<file>/<gen>), so a
// late notification or a late indexing run of a replaced content is told
// apart and erased, never mixed with the current one. Vectors are keyed
// "<file>:<gen>:<position>" in the vector index, one per passage.
package filedata

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Statuses of a file, as the Botpress API names them.
const (
	UploadPending     = "upload_pending"
	UploadFailed      = "upload_failed"
	UploadCompleted   = "upload_completed"
	IndexingPending   = "indexing_pending"
	IndexingFailed    = "indexing_failed"
	IndexingCompleted = "indexing_completed"
)

// Access policies.
const (
	PolicyPublicContent = "public_content"
	PolicyIntegrations  = "integrations"
)

// Owner is who a file belongs to: the bot, or an integration installed on
// it (files created by a caller acting as the integration).
type Owner struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// File is a file record: the API's fields, then what only the system
// keeps (generation, passages, measured bytes and who they are charged to).
type File struct {
	ID             string            `json:"id"`
	BotID          string            `json:"botId"`
	Key            string            `json:"key"`
	ContentType    string            `json:"contentType"`
	Tags           map[string]string `json:"tags"`
	Metadata       map[string]any    `json:"metadata"`
	CreatedAt      string            `json:"createdAt"`
	UpdatedAt      string            `json:"updatedAt"`
	AccessPolicies []string          `json:"accessPolicies"`
	Index          bool              `json:"index"`
	Status         string            `json:"status"`
	FailedReason   string            `json:"failedStatusReason,omitempty"`
	ExpiresAt      string            `json:"expiresAt,omitempty"`
	Owner          Owner             `json:"owner"`

	// DeclaredSize is the size upsertFile declared: the upload must match it.
	DeclaredSize int64 `json:"declaredSize"`
	// Gen is the content's generation (1 for the first upload).
	Gen int `json:"gen"`
	// Passages is how many passages the current generation was indexed into.
	Passages int `json:"passages"`
	// ChargedTo is the workspace whose usage counts StoredBytes and VectorBytes.
	ChargedTo   string `json:"chargedTo"`
	StoredBytes int64  `json:"storedBytes"`
	VectorBytes int64  `json:"vectorBytes"`
	// Tagging is the x-amz-tagging the upload URL was signed with ("" none).
	Tagging string `json:"tagging,omitempty"`
}

// HasPolicy reports whether the file carries an access policy.
func (f File) HasPolicy(p string) bool {
	for _, have := range f.AccessPolicies {
		if have == p {
			return true
		}
	}
	return false
}

// Uploaded reports whether the file's content is stored (its size measured).
func (f File) Uploaded() bool {
	switch f.Status {
	case UploadCompleted, IndexingPending, IndexingFailed, IndexingCompleted:
		return true
	}
	return false
}

func botPK(bot string) string { return "BOT#" + bot }

func fileSK(file string) string { return "FILE#" + file }

func fileKey(bot, file string) map[string]types.AttributeValue {
	return ds.Key(botPK(bot), fileSK(file))
}

func filesIndexPK(bot string) string { return botPK(bot) + "#FILES" }

func claimSK(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "FILEKEY#" + hex.EncodeToString(sum[:])
}

func claimKey(bot, key string) map[string]types.AttributeValue {
	return ds.Key(botPK(bot), claimSK(key))
}

func passagesPK(bot, file string) string { return botPK(bot) + "#" + fileSK(file) }

func genPrefix(gen int) string { return fmt.Sprintf("PSG#%04d#", gen) }

func passageSK(gen, pos int) string { return fmt.Sprintf("%s%06d", genPrefix(gen), pos) }

func passageKey(bot, file string, gen, pos int) map[string]types.AttributeValue {
	return ds.Key(passagesPK(bot, file), passageSK(gen, pos))
}

func usageKey(ws string) map[string]types.AttributeValue { return ds.Key("WS#"+ws, "FILES#USAGE") }

func (s *Store) fileItem(f File) map[string]types.AttributeValue {
	return ds.Item(f, map[string]string{
		ds.PK: botPK(f.BotID), ds.SK: fileSK(f.ID),
		ds.GSI1PK: filesIndexPK(f.BotID), ds.GSI1SK: f.UpdatedAt + "#" + f.ID,
	})
}

func readFile(item map[string]types.AttributeValue) (File, error) {
	var f File
	if err := ds.Unmarshal(item, &f); err != nil {
		return File{}, err
	}
	if f.Tags == nil {
		f.Tags = map[string]string{}
	}
	if f.Metadata == nil {
		f.Metadata = map[string]any{}
	}
	if f.AccessPolicies == nil {
		f.AccessPolicies = []string{}
	}
	return f, nil
}

// ObjectKey is where a generation of a file's content is stored in the
// files bucket.
func ObjectKey(bot, file string, gen int) string {
	return ObjectPrefix(bot, file) + strconv.Itoa(gen)
}

// ObjectPrefix is where every generation of a file's content is stored.
func ObjectPrefix(bot, file string) string { return "bots/" + bot + "/files/" + file + "/" }

// BotObjectPrefix is where all of a bot's file contents are stored.
func BotObjectPrefix(bot string) string { return "bots/" + bot + "/files/" }

// ParseObjectKey reads a bot, file and generation back from an object key
// (ok false for a key that is not a file's content).
func ParseObjectKey(key string) (bot, file string, gen int, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 5 || parts[0] != "bots" || parts[2] != "files" || parts[1] == "" || parts[3] == "" {
		return "", "", 0, false
	}
	g, err := strconv.Atoi(parts[4])
	if err != nil || g < 1 {
		return "", "", 0, false
	}
	return parts[1], parts[3], g, true
}

// VectorKey is a passage's key in the vector index.
func VectorKey(file string, gen, pos int) string { return fmt.Sprintf("%s:%d:%d", file, gen, pos) }

// ParseVectorKey reads a vector key back.
func ParseVectorKey(key string) (file string, gen, pos int, ok bool) {
	parts := strings.Split(key, ":")
	if len(parts) != 3 {
		return "", 0, 0, false
	}
	g, err1 := strconv.Atoi(parts[1])
	p, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || parts[0] == "" {
		return "", 0, 0, false
	}
	return parts[0], g, p, true
}

// Generation erase ids: the lifecycle erases a whole file by its id, or
// one replaced generation of it by "<file>@<gen>".
func genEraseID(file string, gen int) string { return file + "@" + strconv.Itoa(gen) }

// GenerationID names one generation of a file for an erase intent.
func GenerationID(file string, gen int) string { return genEraseID(file, gen) }

func parseEraseID(id string) (file string, gen int) {
	f, g, ok := strings.Cut(id, "@")
	if !ok {
		return id, 0
	}
	n, err := strconv.Atoi(g)
	if err != nil {
		return id, 0
	}
	return f, n
}
