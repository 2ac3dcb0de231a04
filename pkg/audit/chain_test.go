package audit

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func chainOf(n int) []Record {
	t := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	var recs []Record
	for i := 0; i < n; i++ {
		recs = append(recs, New("ws_1", "acc_1", CreateBot, "bot_1", "Support \"β\"\n\x01<&>", t.Add(time.Duration(i)*time.Second)))
	}
	linked, _ := Link(Head{}, recs)
	return linked
}

func verify(recs []Record, head Head) Verification {
	var v Verifier
	for _, r := range recs {
		v.Add(r)
	}
	return v.End(head)
}

func TestCanonicalFormIsJCS(t *testing.T) {
	r := chainOf(1)[0]
	got := string(r.Canonical())
	want := `{"accountId":"acc_1","action":"CREATE_BOT","id":"` + r.ID + `","prevHash":"` + Genesis +
		`","recordedAt":"2026-05-04T10:00:00.000Z","resourceId":"bot_1","resourceName":"Support \"β\"\n\u0001<&>","seq":1,"value":"","workspaceId":"ws_1"}`
	if got != want {
		t.Fatalf("canonical form\n got %s\nwant %s", got, want)
	}
	// The README's independent check: Python's json.dumps writes the same bytes.
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	cmd := exec.Command(py, "-c", `import json,sys; o=json.loads(sys.stdin.read()); sys.stdout.write(json.dumps(o, sort_keys=True, separators=(",",":"), ensure_ascii=False))`)
	cmd.Stdin = strings.NewReader(got)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != got {
		t.Fatalf("python writes\n%s\nParley writes\n%s", out, got)
	}
}

func TestVerifyFindsTheFirstAlteredRecord(t *testing.T) {
	recs := chainOf(5)
	head := Head{Seq: 5, Hash: recs[4].Hash}
	if v := verify(recs, head); !v.Valid || v.Records != 5 || v.FirstInvalidSeq != nil {
		t.Fatalf("intact chain: %+v", v)
	}
	cases := map[string]struct {
		alter func([]Record) ([]Record, Head)
		want  int64
	}{
		"content": {func(r []Record) ([]Record, Head) { r[2].Action = DeleteBot; return r, head }, 3},
		"content, hash recomputed": {func(r []Record) ([]Record, Head) {
			r[2].Value = "x"
			r[2].Hash = r[2].ComputeHash()
			return r, head
		}, 4},
		"deleted":     {func(r []Record) ([]Record, Head) { return append(r[:1:1], r[2:]...), head }, 2},
		"swapped":     {func(r []Record) ([]Record, Head) { r[1], r[2] = r[2], r[1]; return r, head }, 2},
		"seq swapped": {func(r []Record) ([]Record, Head) { r[1].Seq, r[2].Seq = 3, 2; r[1], r[2] = r[2], r[1]; return r, head }, 2},
		"tail cut":    {func(r []Record) ([]Record, Head) { return r[:4], head }, 5},
		"last altered, hash recomputed": {func(r []Record) ([]Record, Head) {
			r[4].Value = "x"
			r[4].Hash = r[4].ComputeHash()
			return r, head
		}, 5},
	}
	for name, c := range cases {
		recs, h := c.alter(chainOf(5))
		v := verify(recs, h)
		if v.Valid || v.FirstInvalidSeq == nil || *v.FirstInvalidSeq != c.want {
			t.Errorf("%s: %+v, want first invalid %d", name, v, c.want)
		}
	}
}

func TestLinkContinuesFromTheHead(t *testing.T) {
	first := chainOf(2)
	more, head := Link(Head{Seq: 2, Hash: first[1].Hash}, chainOf(2))
	if more[0].Seq != 3 || more[0].PrevHash != first[1].Hash || head.Seq != 4 || head.Hash != more[1].Hash {
		t.Fatalf("linked %+v head %+v", more, head)
	}
	if v := verify(append(first, more...), head); !v.Valid {
		t.Fatalf("%+v", v)
	}
}
