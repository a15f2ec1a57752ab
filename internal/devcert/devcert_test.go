package devcert_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"

	"github.com/attache-org/attache/internal/devcert"
)

func TestEnsure(t *testing.T) {
	dir := t.TempDir()
	cert, key, err := devcert.Ensure(dir, "192.0.2.10")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	if err := leaf.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
	if err := leaf.VerifyHostname("192.0.2.10"); err != nil {
		t.Error(err)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
	}
	// A second call keeps the same certificate.
	before, _ := os.ReadFile(cert)
	if _, _, err := devcert.Ensure(dir); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(cert)
	if string(before) != string(after) {
		t.Error("a valid certificate was replaced")
	}
}
