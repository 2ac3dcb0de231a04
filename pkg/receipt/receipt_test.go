package receipt

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestCanonicalIsSortedCompactAndUnescaped(t *testing.T) {
	got, err := Canonical(map[string]any{"b": 1, "a": map[string]any{"z": "<x>", "y": []any{2, "é"}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":{"y":[2,"é"],"z":"<x>"},"b":1}`; string(got) != want {
		t.Fatalf("canonical %s, want %s", got, want)
	}
}

func TestSignAndVerify(t *testing.T) {
	s, err := NewSigner([]byte("a local receipt signing secret"))
	if err != nil {
		t.Fatal(err)
	}
	signed, sig, err := s.Sign(map[string]any{"receiptId": "cdj-1", "deleted": 3})
	if err != nil {
		t.Fatal(err)
	}
	if !Verify(s.Public(), signed, sig) {
		t.Fatal("a fresh signature does not verify")
	}
	tampered := append([]byte(nil), signed...)
	tampered[len(tampered)-2] = '4' // "deleted":3 → 4
	if Verify(s.Public(), tampered, sig) {
		t.Fatal("an altered summary verifies")
	}
	if len(s.KeyID) != 16 {
		t.Fatalf("key id %q", s.KeyID)
	}
}

// The documented offline check: openssl verifies Parley's signature with
// the published PEM key.
func TestOpenSSLVerifiesAReceipt(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	s, _ := NewSigner([]byte("a local receipt signing secret"))
	signed, sig, _ := s.Sign(map[string]any{"receiptId": "run_1", "archived": 2})
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pub, data, sigf := write("pub.pem", []byte(s.PublicPEM())), write("summary.json", signed), write("summary.sig", sig)
	if out, err := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", data, "-sigfile", sigf).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	write("summary.json", append(signed, ' '))
	if err := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", data, "-sigfile", sigf).Run(); err == nil {
		t.Fatal("openssl verified altered bytes")
	}
}
