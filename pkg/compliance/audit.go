package compliance

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/httpapi"
)

// MaxExportLines bounds one export answer; the header NextSeqHeader says
// where the next one starts.
const MaxExportLines = 5000

// NextSeqHeader carries the fromSeq of the next export page, when there is one.
const NextSeqHeader = "X-Parley-Next-Seq"

// ExportLine is one line of an export: the record as hashed, with its hash.
type ExportLine struct {
	Seq          int64  `json:"seq"`
	ID           string `json:"id"`
	WorkspaceID  string `json:"workspaceId"`
	RecordedAt   string `json:"recordedAt"`
	AccountID    string `json:"accountId"`
	Action       string `json:"action"`
	ResourceID   string `json:"resourceId"`
	ResourceName string `json:"resourceName"`
	Value        string `json:"value"`
	PrevHash     string `json:"prevHash"`
	Hash         string `json:"hash"`
}

func exportLine(r audit.Record) ExportLine {
	return ExportLine{Seq: r.Seq, ID: r.ID, WorkspaceID: r.WorkspaceID, RecordedAt: r.RecordedAt, AccountID: r.AccountID,
		Action: r.Action, ResourceID: r.ResourceID, ResourceName: r.ResourceName, Value: r.Value, PrevHash: r.PrevHash, Hash: r.Hash}
}

// exportAudit answers the workspace's chain as JSON lines in seq order,
// from ?fromSeq= (default 1), at most ?limit= (1–5000, default 5000)
// lines; NextSeqHeader names the next page's fromSeq when more remain.
func (a *API) exportAudit(r *http.Request) (httpapi.Response, error) {
	ws := auth.FromContext(r.Context()).WorkspaceID
	q := httpapi.QueryOf(r)
	from, err := q.Int("fromSeq", 1, 1, 1<<62)
	if err != nil {
		return httpapi.Response{}, err
	}
	limit, err := q.Int("limit", MaxExportLines, 1, MaxExportLines)
	if err != nil {
		return httpapi.Response{}, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	n, next := 0, int64(0)
	err = a.Chain.AuditChain(r.Context(), ws, int64(from), func(recs []audit.Record) (bool, error) {
		for _, rec := range recs {
			if n == limit {
				next = rec.Seq
				return false, nil
			}
			if err := enc.Encode(exportLine(rec)); err != nil {
				return false, err
			}
			n++
		}
		return true, nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	raw := httpapi.Raw{ContentType: "application/x-ndjson", Body: buf.Bytes()}
	if next > 0 {
		raw.Headers = map[string]string{NextSeqHeader: strconv.FormatInt(next, 10)}
	}
	return httpapi.OK(raw), nil
}

// verifyAudit walks the workspace's whole chain in seq order and answers
// {valid, records, firstInvalidSeq, reason, head}. The head is read first:
// records appended during the walk are left for the next verification.
// A broken chain is read once more after IndexLag before it is reported,
// since the index that orders the chain is eventually consistent.
func (a *API) verifyAudit(r *http.Request) (httpapi.Response, error) {
	ws := auth.FromContext(r.Context()).WorkspaceID
	var v audit.Verification
	for pass := 0; pass < 2; pass++ {
		if pass > 0 {
			select {
			case <-r.Context().Done():
				return httpapi.Response{}, r.Context().Err()
			case <-time.After(a.IndexLag):
			}
		}
		var err error
		if v, err = a.verify(r, ws); err != nil {
			return httpapi.Response{}, err
		}
		if v.Valid {
			break
		}
	}
	return httpapi.OK(v), nil
}

func (a *API) verify(r *http.Request, ws string) (audit.Verification, error) {
	head, err := a.Chain.AuditHead(r.Context(), ws)
	if err != nil {
		return audit.Verification{}, err
	}
	var v audit.Verifier
	err = a.Chain.AuditChain(r.Context(), ws, 1, func(recs []audit.Record) (bool, error) {
		for _, rec := range recs {
			if rec.Seq > head.Seq {
				return false, nil
			}
			v.Add(rec)
		}
		return true, nil
	})
	if err != nil {
		return audit.Verification{}, err
	}
	return v.End(head), nil
}
