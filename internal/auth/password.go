package auth

import (
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/attache-org/attache/internal/problem"
)

// PasswordParams are the argon2id cost parameters.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultPasswordParams follow RFC 9106's second recommendation (64 MiB,
// three passes), with two lanes for the two-core machines we run on.
var DefaultPasswordParams = PasswordParams{Memory: 64 * 1024, Time: 3, Threads: 2}

// TestPasswordParams are cheap, for tests only.
var TestPasswordParams = PasswordParams{Memory: 1024, Time: 1, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
	// MinPasswordLength is the shortest password accepted.
	MinPasswordLength = 12
	maxPasswordLength = 256
)

// HashPassword returns the PHC string of password under p, e.g.
// $argon2id$v=19$m=65536,t=3,p=2$salt$hash.
func HashPassword(password string, p PasswordParams) string {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

var errBadHash = errors.New("auth: malformed password hash")

// CheckPassword reports whether password matches the PHC string encoded,
// in constant time with respect to the key.
func CheckPassword(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var p PasswordParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// checkPasswordRules returns a user-facing message when password is not
// acceptable for username, or a zero Text.
func checkPasswordRules(username, password string) problem.Text {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLength:
		return problem.Textf("Use at least %d characters.", MinPasswordLength)
	case n > maxPasswordLength:
		return problem.Textf("Use at most %d characters.", maxPasswordLength)
	case strings.EqualFold(password, username):
		return problem.Textf("The password must not be the username.")
	case guessable(username, password):
		return problem.Textf("This password is among the first an attacker tries: choose another, e.g. four unrelated words.")
	}
	return problem.Text{}
}

//go:embed common_passwords.txt
var commonPasswordsText string

// commonPasswords are the passwords and bases an attacker tries first.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(commonPasswordsText, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			m[l] = true
		}
	}
	return m
}()

// Runs of keys an attacker walks: digits, the alphabet, keyboard rows.
var keyRuns = []string{"01234567890123456789", "9876543210987654321", "abcdefghijklmnopqrstuvwxyz", "zyxwvutsrqponmlkjihgfedcba",
	"qwertyuiopasdfghjklzxcvbnm", "azertyuiopqsdfghjklmwxcvbn", "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p"}

// guessable reports whether a password (long enough already) is one an
// attacker tries early: a common password or base with a few digits or
// signs around it, a walk along the keys, a short pattern repeated, or the
// username inside it.
func guessable(username, password string) bool {
	p := strings.ToLower(password)
	if commonPasswords[p] {
		return true
	}
	// Strip what people add around a base: digits, signs, spaces.
	core := strings.TrimFunc(p, func(r rune) bool { return !unicode.IsLetter(r) })
	if core != "" && commonPasswords[core] && utf8.RuneCountInString(strings.TrimSpace(p))-utf8.RuneCountInString(core) <= 6 {
		return true
	}
	compact := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, p)
	for _, run := range keyRuns {
		if len(compact) >= 6 && strings.Contains(run, compact) {
			return true
		}
	}
	// A pattern of up to four characters, repeated.
	runes := []rune(compact)
	for period := 1; period <= 4 && period < len(runes); period++ {
		repeated := true
		for i := period; i < len(runes); i++ {
			if runes[i] != runes[i-period] {
				repeated = false
				break
			}
		}
		if repeated {
			return true
		}
	}
	u := strings.ToLower(username)
	return len(u) >= 4 && strings.Contains(p, u)
}

// GeneratePassword returns a random password of 20 letters and digits in
// groups of four (about 100 bits), easy to read out and type.
func GeneratePassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789" // no 0/o, 1/l/i
	const limit = 256 - 256%len(alphabet)              // reject bytes that would bias the draw
	var sb strings.Builder
	buf := make([]byte, 1)
	for n := 0; n < 20; {
		if _, err := rand.Read(buf); err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err))
		}
		if int(buf[0]) >= limit {
			continue
		}
		if n > 0 && n%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(alphabet[int(buf[0])%len(alphabet)])
		n++
	}
	return sb.String()
}
