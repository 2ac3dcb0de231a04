package admindata

import "testing"

func TestConfigurePlans(t *testing.T) {
	t.Cleanup(func() { _ = ConfigurePlans("") })
	if err := ConfigurePlans(`{"team":{"base":100,"quotas":{"bot_count":7},"prices":{"incoming_messages":{"per":10,"amount":1}}},"startup":{"quotas":{"bot_count":2}}}`); err != nil {
		t.Fatal(err)
	}
	team, _ := PlanOf("team")
	if team.Base != 100 || Quota("team", "bot_count") != 7 || Quota("team", "workspace_member_count") != 20 {
		t.Fatalf("team after PLANS: base %v, bots %v, members %v", team.Base, Quota("team", "bot_count"), Quota("team", "workspace_member_count"))
	}
	if got := team.Prices["incoming_messages"].Charge(25); got != 3 {
		t.Fatalf("25 messages at 1 per started 10: %v, want 3", got)
	}
	if _, ok := PlanOf("startup"); !ok || Quota("startup", "bot_count") != 2 || Quota("startup", "table_count") != 10 {
		t.Fatal("a new plan starts from community")
	}
	if err := ConfigurePlans(`{"team":{"bogus":1}}`); err == nil {
		t.Fatal("an unknown field is accepted")
	}
	if err := ConfigurePlans(""); err != nil || Quota("team", "bot_count") != 200 {
		t.Fatal("defaults not restored")
	}
}

func TestPriceCharge(t *testing.T) {
	p := Price{Included: 1000, Per: 1000, Amount: 0.5, Minimum: 0, Maximum: 2}
	for q, want := range map[float64]float64{0: 0, 1000: 0, 1001: 0.5, 3000: 1, 100_000: 2} {
		if got := p.Charge(q); got != want {
			t.Errorf("Charge(%v) = %v, want %v", q, got, want)
		}
	}
}
