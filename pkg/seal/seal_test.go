package seal

import (
	"crypto/sha256"
	"strings"
	"testing"
)

var (
	k1 = strings.Repeat("1", 32)
	k2 = strings.Repeat("2", 32)
)

func sealer(t *testing.T, spec string, legacy []byte) *Sealer {
	t.Helper()
	ring, err := ParseKeyring(spec)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ring.For("test", legacy)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRotation(t *testing.T) {
	before := sealer(t, k1, nil)
	old, err := before.Seal("s3cret", "owner/name")
	if err != nil || KeyID(old) != "k1" {
		t.Fatalf("%q %v", old, err)
	}
	after := sealer(t, `{"current":"k2","keys":{"k1":"`+k1+`","k2":"`+k2+`"}}`, nil)
	if v, err := after.Open(old, "owner/name"); err != nil || v != "s3cret" {
		t.Fatalf("a value sealed with k1 after rotation: %q %v", v, err)
	}
	fresh, _ := after.Seal("new", "owner/name")
	if KeyID(fresh) != "k2" {
		t.Fatalf("new values carry %q, want k2", KeyID(fresh))
	}
	if _, err := before.Open(fresh, "owner/name"); err == nil {
		t.Fatal("a keyring without k2 opened a k2 value")
	}
	if _, err := after.Open(old, "other/name"); err == nil {
		t.Fatal("a value opened for another owner")
	}
}

func TestLegacyValuesAndPurposes(t *testing.T) {
	legacy := sha256.Sum256([]byte("old"))
	v, _ := LegacySeal(legacy[:], "before", "a")
	s := sealer(t, k1, legacy[:])
	if got, err := s.Open(v, "a"); err != nil || got != "before" {
		t.Fatalf("legacy value: %q %v", got, err)
	}
	if _, err := sealer(t, k1, nil).Open(v, "a"); err == nil {
		t.Fatal("a legacy value opened without the legacy key")
	}
	ring, _ := ParseKeyring(k1)
	other, _ := ring.For("other", nil)
	sealed, _ := s.Seal("x", "a")
	if _, err := other.Open(sealed, "a"); err == nil {
		t.Fatal("a value of one purpose opened as another's")
	}
}

func TestBadKeyrings(t *testing.T) {
	for _, spec := range []string{"short", `{"current":"k3","keys":{"k1":"` + k1 + `"}}`, `{"current":"a.b","keys":{"a.b":"` + k1 + `"}}`, `{`} {
		if _, err := ParseKeyring(spec); err == nil {
			t.Errorf("%s: accepted", spec)
		}
	}
}
