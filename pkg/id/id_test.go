package id

import (
	"testing"
	"time"
)

func TestIDs(t *testing.T) {
	prev := ""
	for _, p := range []string{Bot, User, Conversation, Message, Event, Workspace} {
		for i := 0; i < 100; i++ {
			v := New(p)
			if !Valid(v) || v[:len(p)+1] != p+"_" {
				t.Fatalf("%q: invalid or unprefixed (%d chars)", v, len(v))
			}
			if p == User && prev != "" && v <= prev {
				t.Fatalf("ids made in a row do not sort: %s then %s", prev, v)
			}
			if p == User {
				prev = v
			}
		}
	}
	a, b := NewAt(User, time.Unix(1000, 0)), NewAt(User, time.Unix(2000, 0))
	if a >= b {
		t.Errorf("time order: %s >= %s", a, b)
	}
	for _, bad := range []string{"", "short", "user_" + "0123456789012345678901234567890123", "user_01J!BAD_CHARACTERS_HERE_XX"} {
		if Valid(bad) {
			t.Errorf("Valid(%q)", bad)
		}
	}
}
