package schedule

import (
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	base := time.Date(2026, 11, 21, 5, 0, 0, 0, time.UTC) // a Saturday
	cases := []struct {
		expr string
		want time.Time
	}{
		{"cron(0 2 * * ? *)", time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)},
		{"cron(30 6 * * ? *)", time.Date(2026, 11, 21, 6, 30, 0, 0, time.UTC)},
		{"cron(0 2 ? * 2 *)", time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}, // 2 = Monday
		{"cron(0 2 ? * MON-FRI *)", time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)},
		{"rate(10 seconds)", base.Add(10 * time.Second)},
		{"rate(1 hour)", base.Add(time.Hour)},
		{"rate(2 days)", base.Add(48 * time.Hour)},
	}
	for _, c := range cases {
		e, err := Parse(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if got := e.Next(base); !got.Equal(c.want) {
			t.Errorf("%s: next after %s = %s, want %s", c.expr, base, got, c.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, expr := range []string{"", "rate(0 minutes)", "rate(5 fortnights)", "cron(0 2 * *)", "cron(x y z a b c)", "every day"} {
		if _, err := Parse(expr); err == nil {
			t.Errorf("Parse(%q) accepted", expr)
		}
	}
}
