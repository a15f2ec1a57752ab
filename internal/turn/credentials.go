package turn

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	pionturn "github.com/pion/turn/v5"
)

// Credentials let one participant's browser use the TURN server until
// Expires. They follow the "TURN REST API" scheme
// (draft-uberti-behave-turn-rest): the username is
// "<expiry in Unix seconds>:<participant id>" and the password is
// base64(HMAC-SHA1(secret, username)), so the server keeps no list of them.
// As JSON they are an RTCIceServer (urls, username, credential).
type Credentials struct {
	URLs     []string  `json:"urls"`
	Username string    `json:"username"`
	Password string    `json:"credential"`
	Expires  time.Time `json:"-"`
}

// Credentials returns credentials for a participant, valid for the
// configured CredentialTTL from now. participantID must not be empty; it may
// contain colons.
func (s *Server) Credentials(participantID string, now time.Time) Credentials {
	return s.CredentialsUntil(participantID, now.Add(s.ttl))
}

// CredentialsUntil returns credentials for a participant that expire at
// expires (to the second), e.g. the visit's end plus a margin. TURN
// authenticates every refresh, so a call relayed through this server loses
// its relay within minutes after the credentials expire.
func (s *Server) CredentialsUntil(participantID string, expires time.Time) Credentials {
	exp := expires.Unix()
	username := strconv.FormatInt(exp, 10) + ":" + participantID
	return Credentials{
		URLs:     slices.Clone(s.urls),
		Username: username,
		Password: s.password(username),
		Expires:  time.Unix(exp, 0),
	}
}

// password is the TURN REST API password of a username.
func (s *Server) password(username string) string {
	mac := hmac.New(sha1.New, s.secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

var errBadUsername = errors.New("username is not <unix expiry>:<participant id>")

// participantOf returns the participant of a TURN REST API username, or an
// error if the username is malformed or has expired at now.
func participantOf(username string, now time.Time) (string, error) {
	ts, id, ok := strings.Cut(username, ":")
	if !ok || id == "" {
		return "", errBadUsername
	}
	exp, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", errBadUsername
	}
	if expires := time.Unix(exp, 0); !now.Before(expires) {
		return "", fmt.Errorf("credentials expired at %s", expires.UTC().Format(time.RFC3339))
	}
	return id, nil
}

// authenticate is the pion/turn AuthHandler. It refuses malformed and
// expired usernames and another realm; otherwise it returns the key that
// pion/turn checks the request's MESSAGE-INTEGRITY with, which fails for any
// password but the username's own HMAC. The user ID it returns, which
// pion/turn ties allocations to, is the participant, so that renewed
// credentials keep working on an existing allocation.
func (s *Server) authenticate(ra *pionturn.RequestAttributes) (userID string, key []byte, ok bool) {
	id, err := participantOf(ra.Username, s.clock()())
	if err == nil && ra.Realm != s.realm {
		err = fmt.Errorf("realm %q is not %q", ra.Realm, s.realm)
	}
	if err != nil {
		s.log.Debug("turn: credentials refused", slog.String("username", ra.Username),
			slog.Any("client", ra.SrcAddr), slog.String("method", ra.Method.String()), slog.Any("err", err))
		return "", nil, false
	}
	return id, pionturn.GenerateAuthKey(ra.Username, s.realm, s.password(ra.Username)), true
}

// OpaqueID names a participant in TURN usernames (which travel in clear)
// without saying who they are: a keyed hash of the parts, the same for the
// same parts while the secret stays.
func (s *Server) OpaqueID(parts ...string) string {
	mac := hmac.New(sha256.New, s.secret)
	for _, p := range parts {
		mac.Write([]byte(p))
		mac.Write([]byte{0})
	}
	return hex.EncodeToString(mac.Sum(nil)[:9])
}
