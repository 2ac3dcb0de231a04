// Package receipt signs and verifies the summaries of Parley's lifecycle
// work (deletion jobs, retention runs, data requests, bot purges), so that
// anyone holding the published public key can check a receipt offline.
//
// What is signed is the canonical serialization of the summary: UTF-8 JSON,
// object keys sorted by byte order at every level, no whitespace, no HTML
// escaping, numbers as integers, no trailing newline. The signature is
// Ed25519 (RFC 8032) over those bytes.
package receipt

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// Canonical serialises a summary canonically (see the package comment).
// Values must be JSON-like: maps with string keys, slices, strings,
// booleans, integers and nil.
func Canonical(summary map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// encoding/json writes map keys sorted and no insignificant whitespace.
	if err := enc.Encode(summary); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Signer signs summaries with one key.
type Signer struct {
	key ed25519.PrivateKey
	// KeyID names the key: the first 16 hex digits of the SHA-256 of the
	// public key.
	KeyID string
}

// NewSigner derives the signing key from a secret of any length (the
// Ed25519 seed is the SHA-256 of the secret), so a generated Secrets
// Manager string serves as is.
func NewSigner(secret []byte) (Signer, error) {
	if len(secret) < 16 {
		return Signer{}, errors.New("the receipt signing secret must be at least 16 bytes")
	}
	seed := sha256.Sum256(secret)
	key := ed25519.NewKeyFromSeed(seed[:])
	return Signer{key: key, KeyID: KeyID(key.Public().(ed25519.PublicKey))}, nil
}

// KeyID names a public key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Public is the verification key.
func (s Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// PublicPEM is the verification key as a PEM "PUBLIC KEY" block
// (SubjectPublicKeyInfo), what `openssl pkeyutl -verify -pubin` reads.
func (s Signer) PublicPEM() string {
	der, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		panic(err) // an Ed25519 key always marshals
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// Sign answers the signed bytes (the canonical summary) and the signature.
func (s Signer) Sign(summary map[string]any) (signed, signature []byte, err error) {
	signed, err = Canonical(summary)
	if err != nil {
		return nil, nil, fmt.Errorf("canonical summary: %w", err)
	}
	return signed, ed25519.Sign(s.key, signed), nil
}

// Verify checks a signature over signed bytes with a public key.
func Verify(pub ed25519.PublicKey, signed, signature []byte) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, signed, signature)
}

// ItemsDigest is the hex SHA-256 of a receipt's items in order, each as
// its canonical serialization followed by a newline: the summary signs it,
// so no item can change, appear or vanish unnoticed, and anyone holding the
// items (as the API answers them) can recompute it.
func ItemsDigest(items []map[string]any) (string, error) {
	h := sha256.New()
	for _, it := range items {
		b, err := Canonical(it)
		if err != nil {
			return "", err
		}
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Check verifies a receipt as the API answers it: the signature over the
// signed bytes with the public key, the signed bytes being the canonical
// serialization of the summary, and the summary's item count and digest
// matching the items. It answers what is wrong, or nil.
func Check(pub ed25519.PublicKey, summary map[string]any, signed, signature []byte, items []map[string]any) error {
	if !Verify(pub, signed, signature) {
		return errors.New("the signature does not verify with this public key")
	}
	canon, err := Canonical(summary)
	if err != nil {
		return err
	}
	if !bytes.Equal(canon, signed) {
		return errors.New("the summary is not what was signed")
	}
	digest, err := ItemsDigest(items)
	if err != nil {
		return err
	}
	if fmt.Sprint(summary["itemsDigest"]) != digest || fmt.Sprint(summary["items"]) != fmt.Sprint(len(items)) {
		return fmt.Errorf("the items do not match the signed summary (%d items, digest %s; signed %v, %v)", len(items), digest, summary["items"], summary["itemsDigest"])
	}
	return nil
}
