package authority

import (
	"context"
	"testing"
)

// With every password-check slot taken, a sign-in is refused instead of
// queuing without bound; a freed slot is usable again.
func TestPasswordCheckSlots(t *testing.T) {
	for range cap(passwordChecks) {
		if !acquirePasswordCheck(context.Background()) {
			t.Fatal("a free slot was refused")
		}
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if acquirePasswordCheck(cancelled) {
		t.Fatal("a check started with every slot taken")
	}
	releasePasswordCheck()
	if !acquirePasswordCheck(context.Background()) {
		t.Fatal("a freed slot was refused")
	}
	for range cap(passwordChecks) {
		releasePasswordCheck()
	}
}
