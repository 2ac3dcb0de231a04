package compliance

import (
	"context"
	"encoding/base64"
	"net/http"

	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/receipt"
)

// ReceiptReader reads receipts.
type ReceiptReader interface {
	Summary(ctx context.Context, workspaceID, receiptID string) (lifecycledata.Receipt, error)
	Items(ctx context.Context, workspaceID, receiptID, token string) ([]lifecycledata.Disposition, string, error)
}

// ReceiptAPI serves /api/v1/receipts.
type ReceiptAPI struct {
	receipts ReceiptReader
	signer   receipt.Signer
	auth     *auth.Authenticator
}

// NewReceiptAPI returns the receipts API; signer's public key is the one
// published.
func NewReceiptAPI(receipts ReceiptReader, signer receipt.Signer, a *auth.Authenticator) *ReceiptAPI {
	return &ReceiptAPI{receipts: receipts, signer: signer, auth: a}
}

// Register adds the routes to rt.
func (a *ReceiptAPI) Register(rt *httpapi.Router) {
	rt.Handle("GET", "/api/v1/receipts/public-key", a.publicKey, a.auth.Require(auth.Account, ""))
	rt.Handle("GET", "/api/v1/receipts/{id}", a.get, a.auth.Require(auth.Workspace, auth.ComplianceRead))
}

// get answers a receipt: the signed summary, the exact bytes signed and the
// signature (base64), the key id, and a page of the item dispositions.
func (a *ReceiptAPI) get(r *http.Request) (httpapi.Response, error) {
	ws := auth.FromContext(r.Context()).WorkspaceID
	id := r.PathValue("id")
	rc, err := a.receipts.Summary(r.Context(), ws, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	items, next, err := a.receipts.Items(r.Context(), ws, id, r.URL.Query().Get("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	meta := map[string]any{}
	if next != "" {
		meta["nextToken"] = next
	}
	return httpapi.OK(map[string]any{
		"receiptId": rc.ReceiptID, "summary": rc.Summary, "keyId": rc.KeyID, "algorithm": "Ed25519",
		"signedBytes": base64.StdEncoding.EncodeToString(rc.SignedBytes),
		"signature":   base64.StdEncoding.EncodeToString(rc.Signature),
		"items":       items, "meta": meta,
	}), nil
}

// publicKey answers the keys receipts verify with.
func (a *ReceiptAPI) publicKey(*http.Request) (httpapi.Response, error) {
	return httpapi.OK(map[string]any{"keys": []map[string]string{{
		"keyId": a.signer.KeyID, "algorithm": "Ed25519",
		"publicKey": base64.StdEncoding.EncodeToString(a.signer.Public()), "pem": a.signer.PublicPEM(),
	}}}), nil
}
