// Package cursor turns a DynamoDB LastEvaluatedKey into the opaque page token
// clients hand back (Botpress `nextToken`, ChatBotKit `cursor`) and back.
// Tokens are HMAC-signed and bound to the list they came from, so a token
// from one bot's list cannot page through another's data, nor be forged.
package cursor

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrInvalid is returned for a token that was altered, forged or issued for
// another list.
var ErrInvalid = errors.New("invalid page token")

// Codec signs and verifies tokens with one key.
type Codec struct{ key []byte }

// New returns a codec signing with key.
func New(key []byte) *Codec { return &Codec{key: key} }

// Encode returns the token for a LastEvaluatedKey within scope (a string
// naming the list, its owner and its filters), or "" at the end of the list.
// Parley's keys are all strings; other attribute types are not carried.
func (c *Codec) Encode(scope string, key map[string]types.AttributeValue) string {
	if len(key) == 0 {
		return ""
	}
	plain := map[string]string{}
	for k, v := range key {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			plain[k] = s.Value
		}
	}
	body, _ := json.Marshal(plain)
	b64 := base64.RawURLEncoding.EncodeToString(body)
	return b64 + "." + base64.RawURLEncoding.EncodeToString(c.sign(scope, b64))
}

// Decode verifies token against scope and returns the ExclusiveStartKey.
// An empty token is the first page (nil key).
func (c *Codec) Decode(scope, token string) (map[string]types.AttributeValue, error) {
	if token == "" {
		return nil, nil
	}
	b64, sig, ok := strings.Cut(token, ".")
	if !ok {
		return nil, ErrInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, c.sign(scope, b64)) {
		return nil, ErrInvalid
	}
	body, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return nil, ErrInvalid
	}
	var plain map[string]string
	if err := json.Unmarshal(body, &plain); err != nil || len(plain) == 0 {
		return nil, ErrInvalid
	}
	key := make(map[string]types.AttributeValue, len(plain))
	for k, v := range plain {
		key[k] = &types.AttributeValueMemberS{Value: v}
	}
	return key, nil
}

func (c *Codec) sign(scope, payload string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(scope))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}
