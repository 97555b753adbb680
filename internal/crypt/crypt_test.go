package crypt

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func TestRoundTripAndWrongIdentity(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	rs, err := ParseRecipients([]string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	plain := bytes.Repeat([]byte("PGDMP row data "), 5000)
	var stored bytes.Buffer
	w, err := Encrypt(&stored, rs)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored.Bytes(), []byte("PGDMP")) {
		t.Fatal("the stored bytes hold the plaintext")
	}
	r, err := Decrypt(bytes.NewReader(stored.Bytes()), []age.Identity{id})
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(back, plain) {
		t.Fatalf("decrypted %d bytes (err %v), want %d", len(back), err, len(plain))
	}
	_, err = Decrypt(bytes.NewReader(stored.Bytes()), []age.Identity{other})
	if err == nil || !strings.Contains(err.Error(), "wrong identity") {
		t.Fatalf("a wrong identity: %v; want a refusal naming it", err)
	}
}

func TestParseRecipientsRefuses(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	for _, in := range [][]string{nil, {"age1notakey"}, {id.String()}} {
		_, err := ParseRecipients(in)
		if err == nil {
			t.Errorf("ParseRecipients(%q) passed", in)
			continue
		}
		if strings.Contains(err.Error(), id.String()) {
			t.Errorf("the error shows the identity: %v", err)
		}
	}
}

func TestLoadIdentities(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	file := filepath.Join(t.TempDir(), "key.txt")
	os.WriteFile(file, []byte("# created: today\n"+id.String()+"\n"), 0o600)
	t.Setenv(IdentityFileEnv, "")
	t.Setenv(IdentityEnv, "")
	if _, err := LoadIdentities(""); err == nil || !strings.Contains(err.Error(), "no identity was given") {
		t.Fatalf("no identity: %v", err)
	}
	for name, set := range map[string]func() string{
		"flag":     func() string { return file },
		"file env": func() string { t.Setenv(IdentityFileEnv, file); return "" },
		"env":      func() string { t.Setenv(IdentityFileEnv, ""); t.Setenv(IdentityEnv, id.String()); return "" },
	} {
		ids, err := LoadIdentities(set())
		if err != nil || len(ids) != 1 {
			t.Fatalf("%s: %d identities, %v", name, len(ids), err)
		}
	}
	os.Chmod(file, 0o640)
	if _, err := LoadIdentities(file); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("an identity file others may read: %v; want a refusal", err)
	}
	t.Setenv(IdentityEnv, "AGE-SECRET-KEY-1BROKEN")
	t.Setenv(IdentityFileEnv, "")
	_, err := LoadIdentities("")
	if err == nil || strings.Contains(err.Error(), "BROKEN") {
		t.Fatalf("a broken identity: %v; want a refusal that does not quote it", err)
	}
}
