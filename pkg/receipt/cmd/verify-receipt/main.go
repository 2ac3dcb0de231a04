// Command verify-receipt checks a Parley receipt offline:
//
//	verify-receipt -key public-key.json receipt.json [more-items.json …]
//
// public-key.json is GET /api/v1/receipts/public-key's answer; receipt.json
// is GET /api/v1/receipts/{id}'s answer, and further files are the next
// pages (?nextToken=…), whose items are appended in order. It verifies the
// Ed25519 signature over signedBytes, that signedBytes is the canonical
// serialization of summary, and that the items' count and digest are the
// signed ones. Exit status 0: valid; 1: not valid (the reason is printed).
package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/parley-dev/parley/pkg/receipt"
)

type answer struct {
	KeyID       string           `json:"keyId"`
	Summary     map[string]any   `json:"summary"`
	SignedBytes string           `json:"signedBytes"`
	Signature   string           `json:"signature"`
	Items       []map[string]any `json:"items"`
}

func main() {
	keyFile := flag.String("key", "", "the public key answer (GET /api/v1/receipts/public-key)")
	flag.Parse()
	if *keyFile == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: verify-receipt -key public-key.json receipt.json [next-page.json …]")
		os.Exit(2)
	}
	if err := run(*keyFile, flag.Args()); err != nil {
		fmt.Println("NOT VALID:", err)
		os.Exit(1)
	}
	fmt.Println("valid")
}

func read(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

func run(keyFile string, pages []string) error {
	var keys struct {
		Keys []struct{ KeyID, PublicKey string } `json:"keys"`
	}
	if err := read(keyFile, &keys); err != nil {
		return fmt.Errorf("public key: %w", err)
	}
	var first answer
	if err := read(pages[0], &first); err != nil {
		return fmt.Errorf("receipt: %w", err)
	}
	for _, p := range pages[1:] {
		var next answer
		if err := read(p, &next); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		first.Items = append(first.Items, next.Items...)
	}
	var pub ed25519.PublicKey
	for _, k := range keys.Keys {
		if k.KeyID == first.KeyID {
			raw, err := base64.StdEncoding.DecodeString(k.PublicKey)
			if err != nil {
				return err
			}
			pub = raw
		}
	}
	if pub == nil {
		return fmt.Errorf("no public key with id %s", first.KeyID)
	}
	signed, err := base64.StdEncoding.DecodeString(first.SignedBytes)
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(first.Signature)
	if err != nil {
		return err
	}
	return receipt.Check(pub, first.Summary, signed, sig, first.Items)
}
