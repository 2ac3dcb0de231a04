package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/id"
)

// ErrorBody is the Botpress error shape.
type ErrorBody struct {
	ID      string `json:"id"`
	Code    int    `json:"code"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

// WriteJSON writes body as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// WriteError writes err as a Botpress error body. Errors that are not
// *apperr.Error are internal: the client learns only the request id, and the
// detail goes to the request's log line.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := apperr.As(err)
	if e == nil {
		if s, ok := r.Context().Value(requestIDKey{}).(*requestState); ok {
			s.internal = err
		}
		e = apperr.New(apperr.Internal, "an internal error occurred (request %s)", RequestID(r.Context()))
	}
	status := e.Type.Status()
	WriteJSON(w, status, ErrorBody{ID: id.New(id.Error), Code: status, Type: string(e.Type), Message: e.Message})
}

// List is the Botpress list envelope: {"<plural>": [...], "meta": {"nextToken": "…"}},
// with nextToken absent on the last page.
func List[T any](plural string, items []T, nextToken string) map[string]any {
	if items == nil {
		items = []T{}
	}
	meta := map[string]any{}
	if nextToken != "" {
		meta["nextToken"] = nextToken
	}
	return map[string]any{plural: items, "meta": meta}
}
