package turn

import (
	"strings"
	"testing"
	"time"
)

// Any TURN username a client sends is either a well-formed, unexpired
// <expiry>:<participant> whose participant is returned, or refused; never
// a panic.
func FuzzParticipantOf(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	for _, s := range []string{"1700000600:abc", "1600000000:abc", ":abc", "x:abc", "1700000600:", "1700000600", "-1:a", "99999999999999999999:a", "1700000600:a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, username string) {
		id, err := participantOf(username, now)
		if err != nil {
			return
		}
		if id == "" || !strings.HasSuffix(username, ":"+id) {
			t.Errorf("participantOf(%q) = %q", username, id)
		}
	})
}
