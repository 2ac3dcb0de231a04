package apperr

import "testing"

// The table of the Botpress API documentation (001_f1cf0f9f8e919517.txt).
var documented = map[string]int{
	"Unknown": 500, "Internal": 500, "Unauthorized": 401, "Forbidden": 403, "PayloadTooLarge": 413,
	"InvalidPayload": 400, "UnsupportedMediaType": 415, "MethodNotFound": 405, "ResourceNotFound": 404,
	"InvalidJsonSchema": 400, "InvalidDataFormat": 400, "InvalidIdentifier": 400, "RelationConflict": 409,
	"ReferenceConstraint": 409, "ResourceLockedConflict": 409, "ReferenceNotFound": 400, "InvalidQuery": 400,
	"Runtime": 400, "AlreadyExists": 409, "RateLimited": 429, "PaymentRequired": 402, "QuotaExceeded": 403,
	"LimitExceeded": 413, "BreakingChanges": 400,
}

func TestEveryDocumentedType(t *testing.T) {
	if len(Types()) != len(documented) {
		t.Fatalf("%d types, the documentation has %d", len(Types()), len(documented))
	}
	for _, typ := range Types() {
		if want, ok := documented[string(typ)]; !ok || typ.Status() != want {
			t.Errorf("%s: status %d, documented %d", typ, typ.Status(), want)
		}
	}
	if Type("Nope").Status() != 500 {
		t.Error("an unknown type is not a 500")
	}
}

func TestAs(t *testing.T) {
	err := NotFound("user", "u1")
	if !Is(err, ResourceNotFound) || As(err).Message != `user "u1" doesn't exist` {
		t.Errorf("%v", err)
	}
	if As(nil) != nil || Is(nil, Internal) {
		t.Error("nil is an error")
	}
}
