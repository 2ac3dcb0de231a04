// Package clock gives the current time through an interface, so tests can
// move it, and formats timestamps the way the Botpress API does.
package clock

import "time"

// Layout is ISO 8601 in UTC with milliseconds: 2026-05-08T06:22:56.097Z.
const Layout = "2006-01-02T15:04:05.000Z07:00"

// Clock tells the time.
type Clock interface{ Now() time.Time }

// System is the real clock.
type System struct{}

// Now returns the current UTC time truncated to milliseconds, the precision
// of every timestamp Parley stores.
func (System) Now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// Format renders t as the API's timestamp.
func Format(t time.Time) string { return t.UTC().Format(Layout) }

// Parse reads an ISO 8601 timestamp.
func Parse(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// Fixed is a clock for tests that returns T until moved.
type Fixed struct{ T time.Time }

// Now returns the fixed time.
func (f *Fixed) Now() time.Time { return f.T }

// Advance moves the clock forward.
func (f *Fixed) Advance(d time.Duration) { f.T = f.T.Add(d) }
