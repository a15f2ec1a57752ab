package recording

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func testKeys(t *testing.T) *Keys {
	t.Helper()
	k, err := GenerateKeyFile(filepath.Join(t.TempDir(), "recording.key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGenerateAndLoadKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "recording.key")
	k, err := GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %v, want 0600", got)
	}
	if _, err := GenerateKeyFile(path); err == nil {
		t.Fatal("GenerateKeyFile overwrote an existing file")
	}
	loaded, err := LoadKeys(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Recipient() != k.Recipient() || !strings.HasPrefix(k.Recipient(), "age1") {
		t.Errorf("recipient = %q, generated %q", loaded.Recipient(), k.Recipient())
	}

	// Nothing that prints or logs Keys shows the secret.
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("keys", "keys", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), fmt.Sprintf("%v", *k), logged.String()} {
		if strings.Contains(strings.ToUpper(s), "AGE-SECRET-KEY") || !strings.Contains(s, k.Recipient()) {
			t.Errorf("printed keys: %q", s)
		}
	}
}

func TestLoadKeysRotation(t *testing.T) {
	dir := t.TempDir()
	oldID, _ := age.GenerateX25519Identity()
	newID, _ := age.GenerateX25519Identity()
	write := func(name string, lines ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old, err := LoadKeys(write("old", "# old key", oldID.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := LoadKeys(write("rotated", newID.String(), "", oldID.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Recipient() != newID.Recipient().String() {
		t.Errorf("rotated keys encrypt to %s, want the first key %s", rotated.Recipient(), newID.Recipient())
	}
	// A file recorded under the old key still opens with the rotated file.
	res := recordFakeOpus(t, t.TempDir(), "rot", old, 20)
	if _, err := Verify(res.Path, rotated, res.SHA256); err != nil {
		t.Errorf("verify with rotated keys: %v", err)
	}
}

func TestLoadKeysErrors(t *testing.T) {
	dir := t.TempDir()
	secretish := "AGE-SECRET-KEY-1NOTAKEYATALLBUTITLOOKSLIKEONEXXXXXXXXXXXXXXXXXXXXXXXXXXX"
	tests := []struct {
		name, content string
	}{
		{"empty", ""},
		{"comments only", "# nothing\n"},
		{"garbage", "hello\n"},
		{"malformed key", secretish + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadKeys(p, nil)
			if err == nil {
				t.Fatal("LoadKeys accepted it")
			}
			if strings.Contains(err.Error(), "NOTAKEY") {
				t.Errorf("error shows the key: %v", err)
			}
		})
	}
	if _, err := LoadKeys(filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("LoadKeys of a missing file succeeded")
	}
}
