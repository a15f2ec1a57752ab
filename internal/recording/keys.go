package recording

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"filippo.io/age"
)

// Keys are the age keys that encrypt recordings at rest. They come from a
// file named in the configuration, never from the database that holds the
// recordings' metadata, so that a database dump alone cannot play a visit.
//
// The file is an age identity file as age-keygen writes it: one secret key a
// line (AGE-SECRET-KEY-1… for X25519, AGE-SECRET-KEY-PQ-1… for the hybrid
// post-quantum keys of age-keygen -pq), "#" comments allowed. New recordings
// are encrypted to the first key; every key in the file can decrypt. To rotate,
// put the new key on the first line and keep the old ones below it for as long
// as recordings made with them are kept.
//
// Keys never prints its secret: String, GoString and LogValue show the public
// recipient only.
type Keys struct {
	recipient  age.Recipient
	public     string // recipient in its text form, safe to show
	identities []age.Identity
}

// LoadKeys reads the age identity file at path. It warns through log when the
// file can be read by users other than its owner.
func LoadKeys(path string, log *slog.Logger) (*Keys, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("recording: open key file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 && log != nil {
		log.Warn("recording key file is readable by other users", "path", path, "mode", fi.Mode().Perm().String())
	}
	ids, err := age.ParseIdentities(f)
	if err != nil {
		// age's parse errors never include key material.
		return nil, fmt.Errorf("recording: key file %s: %w", path, err)
	}
	return newKeys(ids)
}

// GenerateKeyFile writes a new X25519 age identity to path (mode 0600) and
// returns it. It refuses to overwrite an existing file. Meant for development
// and demonstrations; production keys are made with age-keygen and kept apart.
func GenerateKeyFile(path string) (*Keys, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("recording: generate key: %w", err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Attaché recording key, made by GenerateKeyFile for development.\n")
	fmt.Fprintf(&b, "# public key: %s\n", id.Recipient())
	fmt.Fprintf(&b, "%s\n", id)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("recording: key file %s already exists; not overwriting it", path)
		}
		return nil, fmt.Errorf("recording: create key file: %w", err)
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return nil, fmt.Errorf("recording: write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("recording: write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("recording: write key file: %w", err)
	}
	return newKeys([]age.Identity{id})
}

func newKeys(ids []age.Identity) (*Keys, error) {
	k := &Keys{identities: ids}
	switch id := ids[0].(type) {
	case *age.X25519Identity:
		r := id.Recipient()
		k.recipient, k.public = r, r.String()
	case *age.HybridIdentity:
		r := id.Recipient()
		k.recipient, k.public = r, r.String()
	default:
		return nil, fmt.Errorf("recording: unsupported identity type %T on the first line of the key file", id)
	}
	return k, nil
}

// Recipient returns the public key new recordings are encrypted to (age1…),
// safe to log and show.
func (k Keys) Recipient() string { return k.public }

// String returns a description naming the public key only.
func (k Keys) String() string { return "recording.Keys(" + k.public + ")" }

// GoString is String, so that %#v does not print the secret either.
func (k Keys) GoString() string { return k.String() }

// LogValue makes slog log the public key only.
func (k Keys) LogValue() slog.Value { return slog.StringValue(k.public) }
