// Package seal encrypts the secrets Parley must read back (integration
// secrets, bot API key secrets) with AES-256-GCM under a keyring: the
// current key seals, every listed key opens, and each sealed value names
// the key that sealed it, so keys rotate without losing what was sealed.
// The keyring is its own secret (SEALING_SECRET / SEALING_SECRET_ARN),
// never the page-token signing key.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Keyring is the set of sealing keys, by id, and the id of the current one.
type Keyring struct {
	current string
	keys    map[string][]byte
}

var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// DefaultKeyID is the id of a keyring given as a plain secret value.
const DefaultKeyID = "k1"

// ParseKeyring reads a keyring from a secret's value: either JSON,
// {"current":"k2","keys":{"k1":"…","k2":"…"}}, or a plain string, which is
// one key with id "k1". Each key's value must be at least 32 characters.
// To rotate from a plain value, write the JSON form with the old value as
// "k1" and the new one as current.
func ParseKeyring(value string) (*Keyring, error) {
	value = strings.TrimSpace(value)
	if !strings.HasPrefix(value, "{") {
		return NewKeyring(DefaultKeyID, map[string]string{DefaultKeyID: value})
	}
	var spec struct {
		Current string            `json:"current"`
		Keys    map[string]string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(value), &spec); err != nil {
		return nil, fmt.Errorf("sealing keyring: %w", err)
	}
	return NewKeyring(spec.Current, spec.Keys)
}

// NewKeyring returns a keyring sealing with keys[current].
func NewKeyring(current string, keys map[string]string) (*Keyring, error) {
	k := &Keyring{current: current, keys: map[string][]byte{}}
	for id, v := range keys {
		if !keyID.MatchString(id) {
			return nil, fmt.Errorf("sealing keyring: key id %q must be 1 to 32 letters, digits, - or _", id)
		}
		if len(v) < 32 {
			return nil, fmt.Errorf("sealing keyring: key %q must be at least 32 characters", id)
		}
		k.keys[id] = []byte(v)
	}
	if _, ok := k.keys[current]; !ok {
		return nil, fmt.Errorf("sealing keyring: the current key %q is not listed", current)
	}
	return k, nil
}

// Current is the id of the key that seals.
func (k *Keyring) Current() string { return k.current }

// Sealer seals and opens the values of one purpose. Each purpose gets its
// own key derived from each keyring key, so a value sealed for one purpose
// never opens as another's.
type Sealer struct {
	current string
	aeads   map[string]cipher.AEAD
	legacy  cipher.AEAD
}

// For returns the sealer of purpose ("integration-secrets", "bot-api-keys").
// legacy, when not nil, is the 32-byte key values sealed before key ids
// existed were sealed with: they still open.
func (k *Keyring) For(purpose string, legacy []byte) (*Sealer, error) {
	s := &Sealer{current: k.current, aeads: map[string]cipher.AEAD{}}
	for id, v := range k.keys {
		m := hmac.New(sha256.New, v)
		m.Write([]byte("parley/seal/" + purpose))
		aead, err := newAEAD(m.Sum(nil))
		if err != nil {
			return nil, err
		}
		s.aeads[id] = aead
	}
	if legacy != nil {
		aead, err := newAEAD(legacy)
		if err != nil {
			return nil, err
		}
		s.legacy = aead
	}
	return s, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// prefix marks a keyed value: "v1.<key id>.<base64 nonce|ciphertext>".
// Legacy values are bare base64, which never holds a '.'.
const prefix = "v1."

// Seal encrypts plain with the current key; aad (e.g. the owner's id and
// the secret's name) is authenticated with it, so a sealed value can't be
// moved to another owner.
func (s *Sealer) Seal(plain, aad string) (string, error) {
	aead := s.aeads[s.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return prefix + s.current + "." + base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(plain), []byte(aad))), nil
}

// ErrMalformed is the error of a value that is not a sealed value.
var ErrMalformed = errors.New("seal: malformed sealed value")

// Open decrypts a value sealed by Seal with any key of the keyring, or a
// legacy value with the legacy key.
func (s *Sealer) Open(sealed, aad string) (string, error) {
	aead, body := s.legacy, sealed
	if rest, ok := strings.CutPrefix(sealed, prefix); ok {
		id, b, ok := strings.Cut(rest, ".")
		if !ok {
			return "", ErrMalformed
		}
		if aead = s.aeads[id]; aead == nil {
			return "", fmt.Errorf("seal: key %q is not in the keyring", id)
		}
		body = b
	}
	if aead == nil {
		return "", errors.New("seal: a value sealed before key ids, and no legacy key")
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil || len(raw) < aead.NonceSize() {
		return "", ErrMalformed
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(aad))
	return string(plain), err
}

// KeyID returns the id of the key that sealed a value ("" for a legacy one).
func KeyID(sealed string) string {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ".")
	return id
}

// LegacySeal seals plain the way values were sealed before key ids (bare
// base64 under key), for tests of values written by earlier versions.
func LegacySeal(key []byte, plain, aad string) (string, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(plain), []byte(aad))), nil
}
