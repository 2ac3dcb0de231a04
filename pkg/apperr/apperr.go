// Package apperr is Parley's one application error type. Every error a client
// can see is an *Error carrying a Botpress error type; the table below maps
// each type to its HTTP status. Anything else that reaches a client is an
// internal error: logged with detail, reported without it.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
)

// Type is a Botpress error type, as listed in the API documentation.
type Type string

// The Botpress error types.
const (
	Unknown                Type = "Unknown"
	Internal               Type = "Internal"
	Unauthorized           Type = "Unauthorized"
	Forbidden              Type = "Forbidden"
	PayloadTooLarge        Type = "PayloadTooLarge"
	InvalidPayload         Type = "InvalidPayload"
	UnsupportedMediaType   Type = "UnsupportedMediaType"
	MethodNotFound         Type = "MethodNotFound"
	ResourceNotFound       Type = "ResourceNotFound"
	InvalidJSONSchema      Type = "InvalidJsonSchema"
	InvalidDataFormat      Type = "InvalidDataFormat"
	InvalidIdentifier      Type = "InvalidIdentifier"
	RelationConflict       Type = "RelationConflict"
	ReferenceConstraint    Type = "ReferenceConstraint"
	ResourceLockedConflict Type = "ResourceLockedConflict"
	ReferenceNotFound      Type = "ReferenceNotFound"
	InvalidQuery           Type = "InvalidQuery"
	Runtime                Type = "Runtime"
	AlreadyExists          Type = "AlreadyExists"
	RateLimited            Type = "RateLimited"
	PaymentRequired        Type = "PaymentRequired"
	QuotaExceeded          Type = "QuotaExceeded"
	LimitExceeded          Type = "LimitExceeded"
	BreakingChanges        Type = "BreakingChanges"
)

// statuses is the one table from error type to HTTP status.
var statuses = map[Type]int{
	Unknown:                http.StatusInternalServerError,
	Internal:               http.StatusInternalServerError,
	Unauthorized:           http.StatusUnauthorized,
	Forbidden:              http.StatusForbidden,
	PayloadTooLarge:        http.StatusRequestEntityTooLarge,
	InvalidPayload:         http.StatusBadRequest,
	UnsupportedMediaType:   http.StatusUnsupportedMediaType,
	MethodNotFound:         http.StatusMethodNotAllowed,
	ResourceNotFound:       http.StatusNotFound,
	InvalidJSONSchema:      http.StatusBadRequest,
	InvalidDataFormat:      http.StatusBadRequest,
	InvalidIdentifier:      http.StatusBadRequest,
	RelationConflict:       http.StatusConflict,
	ReferenceConstraint:    http.StatusConflict,
	ResourceLockedConflict: http.StatusConflict,
	ReferenceNotFound:      http.StatusBadRequest,
	InvalidQuery:           http.StatusBadRequest,
	Runtime:                http.StatusBadRequest,
	AlreadyExists:          http.StatusConflict,
	RateLimited:            http.StatusTooManyRequests,
	PaymentRequired:        http.StatusPaymentRequired,
	QuotaExceeded:          http.StatusForbidden,
	LimitExceeded:          http.StatusRequestEntityTooLarge,
	BreakingChanges:        http.StatusBadRequest,
}

// Types lists every error type, in the documentation's order.
func Types() []Type {
	return []Type{Unknown, Internal, Unauthorized, Forbidden, PayloadTooLarge, InvalidPayload,
		UnsupportedMediaType, MethodNotFound, ResourceNotFound, InvalidJSONSchema, InvalidDataFormat,
		InvalidIdentifier, RelationConflict, ReferenceConstraint, ResourceLockedConflict,
		ReferenceNotFound, InvalidQuery, Runtime, AlreadyExists, RateLimited, PaymentRequired,
		QuotaExceeded, LimitExceeded, BreakingChanges}
}

// Status returns the HTTP status of an error type (500 for an unknown one).
func (t Type) Status() int {
	if s, ok := statuses[t]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is an error a client may see.
type Error struct {
	Type    Type
	Message string
}

func (e *Error) Error() string { return string(e.Type) + ": " + e.Message }

// New returns an error of the given type.
func New(t Type, format string, args ...any) *Error {
	return &Error{Type: t, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports a missing resource. Resources outside the caller's scope
// are reported with the same words, so existence does not leak.
func NotFound(kind, id string) *Error {
	return New(ResourceNotFound, "%s %q doesn't exist", kind, id)
}

// Invalid reports a bad request body or parameter.
func Invalid(format string, args ...any) *Error { return New(InvalidPayload, format, args...) }

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Is reports whether err is an *Error of type t.
func Is(err error, t Type) bool {
	e := As(err)
	return e != nil && e.Type == t
}
