package calls

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/attache-org/attache/internal/media"
	"github.com/attache-org/attache/internal/visits"
)

// wsConn carries a call's signalling over a WebSocket. It keeps the
// quality reports the page sends, and how the socket ended.
type wsConn struct {
	c       *websocket.Conn
	mu      sync.Mutex
	quality visits.Quality
	readErr error
}

func (w *wsConn) Read(ctx context.Context) (media.Message, error) {
	var m media.Message
	err := readMessage(ctx, w.c, &m)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if w.readErr == nil {
			w.readErr = err
		}
		return m, err
	}
	if m.Type == "stats" && m.Stats != nil {
		st := m.Stats
		w.quality.Add(st.LossPct, st.RTTms, st.JitterMs, st.KbpsIn, st.KbpsOut)
	}
	return m, nil
}

// errNotUTF8 closes a socket whose text frame is not UTF-8, as RFC 6455
// requires (status 1007).
var errNotUTF8 = errors.New("calls: a text frame that is not UTF-8")

// readFrame reads one frame of a page's socket; a text frame that is not
// valid UTF-8 fails the connection with 1007.
func readFrame(ctx context.Context, c *websocket.Conn) (websocket.MessageType, []byte, error) {
	typ, b, err := c.Read(ctx)
	if err == nil && typ == websocket.MessageText && !utf8.Valid(b) {
		c.Close(websocket.StatusInvalidFramePayloadData, "text frames must be UTF-8")
		return typ, nil, errNotUTF8
	}
	return typ, b, err
}

// readMessage reads one signalling message.
func readMessage(ctx context.Context, c *websocket.Conn, m *media.Message) error {
	_, b, err := readFrame(ctx, c)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, m); err != nil {
		return fmt.Errorf("calls: a signalling message that is not JSON: %w", err)
	}
	return nil
}

// Write gives up on a participant who does not read for ten seconds.
func (w *wsConn) Write(ctx context.Context, m media.Message) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return wsjson.Write(ctx, w.c, m)
}

// CloseReconnect is the close code a page uses when it drops its session
// to reconnect (its network failed), as opposed to hanging up; a node that
// relays a page uses it too when the page's connection broke.
const CloseReconnect websocket.StatusCode = 4000

// dropped reports whether the socket broke, or the page closed it to
// reconnect, rather than hanging up: the network, not the person.
func (w *wsConn) dropped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.readErr == nil {
		return false
	}
	code := websocket.CloseStatus(w.readErr)
	return code == -1 || code == CloseReconnect
}

func (w *wsConn) summary() visits.Quality {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.quality
}

// Accept upgrades a request to a call's signalling WebSocket (only from the
// page's own origin), for a session that lasts as long as the call: the
// server's read and write timeouts, meant for requests, are lifted. When it
// fails it has answered the request.
func Accept(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(256 << 10)
	return c, nil
}

// tell sends one last message to a page and closes its socket normally.
func tell(ctx context.Context, c *websocket.Conn, m media.Message, why string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = wsjson.Write(ctx, c, m)
	c.Close(websocket.StatusNormalClosure, why)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
