// Package schedule reads EventBridge schedule expressions, `rate(...)` and
// `cron(...)`, and tells when they next fire. The local runner fires
// schedules with it (the emulator fires nothing), and the deletion jobs use
// it to tell users when the next off-peak window opens.
package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/adhocore/gronx"
)

// Expression is a parsed schedule expression.
type Expression struct {
	raw   string
	every time.Duration // rate
	cron  string        // gronx form of a cron expression
}

// Parse reads `rate(N unit)` (minute(s), hour(s), day(s); and, for local
// runs, second(s)) or an EventBridge `cron(min hour day month weekday year)`.
func Parse(expr string) (Expression, error) {
	e := Expression{raw: expr}
	switch {
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		fields := strings.Fields(expr[len("rate(") : len(expr)-1])
		if len(fields) != 2 {
			return e, fmt.Errorf("schedule %q: want rate(<number> <unit>)", expr)
		}
		n, err := strconv.Atoi(fields[0])
		if err != nil || n <= 0 {
			return e, fmt.Errorf("schedule %q: rate needs a positive whole number", expr)
		}
		unit := map[string]time.Duration{
			"second": time.Second, "seconds": time.Second, "minute": time.Minute, "minutes": time.Minute,
			"hour": time.Hour, "hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
		}[fields[1]]
		if unit == 0 {
			return e, fmt.Errorf("schedule %q: unknown unit %q", expr, fields[1])
		}
		e.every = time.Duration(n) * unit
		return e, nil
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		fields := strings.Fields(expr[len("cron(") : len(expr)-1])
		if len(fields) != 6 {
			return e, fmt.Errorf("schedule %q: EventBridge cron has 6 fields: minutes hours day-of-month month day-of-week year", expr)
		}
		for i, f := range fields {
			if f == "?" {
				fields[i] = "*"
			}
		}
		fields[4] = weekdays(fields[4])
		// gronx's 7-field form leads with seconds.
		e.cron = "0 " + strings.Join(fields, " ")
		if !gronx.IsValid(e.cron) {
			return e, fmt.Errorf("schedule %q: invalid cron expression", expr)
		}
		return e, nil
	}
	return e, fmt.Errorf("schedule %q: want rate(...) or cron(...)", expr)
}

// weekdays maps EventBridge's numeric days (1 = Sunday) to cron's (0 = Sunday).
func weekdays(field string) string {
	return strings.Map(func(r rune) rune {
		if r >= '1' && r <= '7' {
			return r - 1
		}
		return r
	}, field)
}

// String returns the expression as written.
func (e Expression) String() string { return e.raw }

// Next returns the first firing strictly after t (UTC, as EventBridge).
// A rate schedule fires every interval from its creation; callers pass the
// last firing.
func (e Expression) Next(t time.Time) time.Time {
	if e.every > 0 {
		return t.Add(e.every)
	}
	next, err := gronx.NextTickAfter(e.cron, t.UTC(), false)
	if err != nil {
		return time.Time{}
	}
	return next
}

// Rate returns the interval of a rate expression (0 for cron).
func (e Expression) Rate() time.Duration { return e.every }
