package media

import (
	"encoding/json"
	"testing"
)

// Any signalling frame a page sends either decodes into a Message that
// encodes again, or is refused; never a panic.
func FuzzMessage(f *testing.F) {
	for _, s := range []string{`{"type":"answer","sdp":"v=0"}`, `{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}}`,
		`{"type":"stats","stats":{"loss_pct":1e400}}`, `{"type":"admit","id":"link:x"}`, `{"type":"mute","id":"x","muted":true}`, `[]`, `{"type":null}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		var m Message
		if err := json.Unmarshal(frame, &m); err != nil {
			return
		}
		if _, err := json.Marshal(m); err != nil {
			t.Errorf("%q decoded into %+v, which does not encode: %v", frame, m, err)
		}
	})
}
