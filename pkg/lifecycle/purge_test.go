package lifecycle

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	if Backoff(1) != time.Second || Backoff(3) != 4*time.Second || Backoff(50) != 5*time.Minute {
		t.Fatalf("backoff %v %v %v", Backoff(1), Backoff(3), Backoff(50))
	}
}
