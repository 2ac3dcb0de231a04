package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/receipt"
)

// ReceiptIssuer signs the summary of finished work (a deletion job, a
// retention run, a data request, a bot purge) over its receipt pages: the
// summary holds the number of items and the digest of the pages, so the
// signature covers every disposition.
type ReceiptIssuer struct {
	Store  *lifecycledata.ReceiptStore
	Signer receipt.Signer
	Clock  clock.Clock
}

// Receipt types.
const (
	ReceiptDeletionJob  = "deletionJob"
	ReceiptRetentionRun = "retentionRun"
	ReceiptDataRequest  = "dataRequest"
	ReceiptBotPurge     = "botPurge"
)

// Issue signs and stores a receipt's summary: fields (JSON-like values)
// plus receiptId, type, workspaceId, items, itemsDigest, keyId, issuedAt.
// Issuing again (a retried proof) keeps the first summary.
func (r ReceiptIssuer) Issue(ctx context.Context, receiptID, workspaceID, typ string, fields map[string]any) error {
	items, err := r.Store.AllItems(ctx, receiptID)
	if err != nil {
		return fmt.Errorf("receipt %s items: %w", receiptID, err)
	}
	asMaps := make([]map[string]any, 0, len(items))
	for _, it := range items {
		m, err := toMap(it)
		if err != nil {
			return err
		}
		asMaps = append(asMaps, m)
	}
	digest, err := receipt.ItemsDigest(asMaps)
	if err != nil {
		return err
	}
	summary := map[string]any{}
	for k, v := range fields {
		summary[k] = v
	}
	summary["receiptId"], summary["type"], summary["workspaceId"] = receiptID, typ, workspaceID
	summary["items"], summary["itemsDigest"], summary["keyId"] = len(items), digest, r.Signer.KeyID
	summary["issuedAt"] = clock.Format(r.Clock.Now())
	signed, sig, err := r.Signer.Sign(summary)
	if err != nil {
		return err
	}
	return r.Store.PutSummary(ctx, lifecycledata.Receipt{
		ReceiptID: receiptID, WorkspaceID: workspaceID, Summary: summary, SignedBytes: signed, Signature: sig, KeyID: r.Signer.KeyID,
	})
}

// toMap is a disposition as the API answers it (JSON field names, empty
// fields left out), the shape its digest is computed on.
func toMap(d lifecycledata.Disposition) (map[string]any, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	return m, dec.Decode(&m)
}
