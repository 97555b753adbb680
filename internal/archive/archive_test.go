package archive

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestID(t *testing.T) {
	at := time.Date(2026, 11, 25, 20, 15, 0, 0, time.FixedZone("CET", 3600))
	id := NewID(at)
	if !ValidID(id) || !strings.HasPrefix(id, "20261125T191500Z-") {
		t.Errorf("NewID = %q", id)
	}
	if got, ok := IDTime(id); !ok || !got.Equal(at) {
		t.Errorf("IDTime(%q) = %v, %v", id, got, ok)
	}
	for _, bad := range []string{"", "latest", "../20261125T191500Z-abcd", "20261125T191500Z-ABCD", "20261125T191500Z-abcd.partial"} {
		if ValidID(bad) || CheckID(bad) == nil {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
	if NewID(at) >= NewID(at.Add(time.Second)) {
		t.Error("ids do not sort by time")
	}
}

func writeManifest(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReadRefuses(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"not json", "{", "damaged"},
		{"not ours", `{"hello": 1}`, "not a splitschema backup manifest"},
		{"newer", `{"format": 99, "id": "x"}`, "newer than this splitschema reads"},
		{"escape", `{"format": 1, "id": "x", "files": [{"path": "../../etc/passwd"}]}`, "not a file inside the backup"},
		{"absolute", `{"format": 1, "id": "x", "files": [{"path": "/etc/passwd"}]}`, "not a file inside the backup"},
		{"itself", `{"format": 1, "id": "x", "files": [{"path": "manifest.json"}]}`, "not a file inside the backup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeManifest(t, dir, tc.body)
			_, err := Read(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := Read(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a complete backup") {
		t.Errorf("no manifest: err = %v", err)
	}
}

// The sealer's head start never hides a change: a file changed after it
// was hashed ahead is hashed again, a file never reported is hashed too.
func TestSealerCatchesLateChanges(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("dump/a.dat", "first")
	write("dump/b.dat", "never reported")
	s := NewSealer(dir, 2)
	s.Add("dump/a.dat")
	s.Wait()
	write("dump/a.dat", "changed after it was hashed, longer")
	files, err := s.Finish(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Path != "dump/a.dat" || files[1].Path != "dump/b.dat" {
		t.Fatalf("files = %+v", files)
	}
	m := &Manifest{ID: "x", Files: files}
	problems, err := Check(context.Background(), dir, m, 2, nil)
	if err != nil || len(problems) != 0 {
		t.Errorf("check after seal: %v %v", problems, err)
	}
	for _, rel := range []string{"dump/a.dat", "dump/b.dat"} {
		fi, _ := os.Stat(filepath.Join(dir, rel))
		if fi.Mode().Perm() != FileMode {
			t.Errorf("%s mode %v, want %v", rel, fi.Mode().Perm(), FileMode)
		}
	}
	fi, _ := os.Stat(filepath.Join(dir, "dump"))
	if fi.Mode().Perm() != DirMode {
		t.Errorf("dump/ mode %v, want %v", fi.Mode().Perm(), DirMode)
	}
}

func FuzzRead(f *testing.F) {
	f.Add(`{"format": 1, "id": "20261125T191500Z-abcd", "files": [{"path": "dump/toc.dat", "size": 3, "sha256": "ab"}]}`)
	f.Add(`{"format": 1, "id": "x", "files": [{"path": "dump/../../x"}]}`)
	f.Add(`{"format": 1, "id": "x", "files": [{"path": "a\\..\\..\\b"}]}`)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body string) {
		writeManifest(t, dir, body)
		m, err := Read(dir)
		if err != nil {
			return
		}
		for _, file := range m.Files {
			p := filepath.Join(dir, filepath.FromSlash(file.Path))
			rel, err := filepath.Rel(dir, p)
			if err != nil || strings.HasPrefix(rel, "..") || rel == ManifestFile {
				t.Fatalf("Read accepted %q, outside the backup", file.Path)
			}
		}
	})
}

// manifest.json carries its own checksum: a flipped byte is found. A forger
// who rewrites a file, its SHA-256 in the manifest and the manifest's
// checksum too passes the checksum, not the signature.
func TestSeal(t *testing.T) {
	key, err := NewKey([]byte("0123456789abcdef0123456789abcdef"), "test")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewKey([]byte("another key, also thirty-two bytes!"), "test")
	if _, err := NewKey([]byte("short"), "test"); err == nil {
		t.Error("a 5-byte key was accepted")
	}
	dir := t.TempDir()
	m := &Manifest{ID: "20261125T191500Z-abcd", Files: []File{{Path: "roles.json", Size: 2, SHA256: "aa"}}}
	if err := Write(dir, m, key); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[*Key]Signature{key: SignatureValid, nil: SignatureNotChecked, other: SignatureOtherKey} {
		if s := got.CheckSignature(k); s != want {
			t.Errorf("signature with %v = %s, want %s", k, s, want)
		}
	}
	path := filepath.Join(dir, ManifestFile)
	data, _ := os.ReadFile(path)

	// Bit rot: one byte of the body changes.
	rotten := []byte(strings.Replace(string(data), `"size": 2`, `"size": 3`, 1))
	os.WriteFile(path, rotten, 0o600)
	if _, err := Read(dir); !errors.Is(err, ErrManifestChecksum) {
		t.Errorf("bit rot: err = %v, want ErrManifestChecksum", err)
	}

	// Forgery: the body changed and its checksum recomputed, the signature
	// kept (the forger has no key).
	forged := *got
	forged.Files = []File{{Path: "roles.json", Size: 2, SHA256: "bb"}}
	if err := Write(dir, &forged, nil); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	sealed := `"sha256":"` + forged.Seal.SHA256 + `"`
	if !strings.Contains(string(data), sealed) {
		t.Fatalf("no %s in %s", sealed, data)
	}
	data = []byte(strings.Replace(string(data), sealed, sealed+`,"hmac_sha256":"`+got.Seal.HMACSHA256+`","key_id":"`+key.ID+`"`, 1))
	os.WriteFile(path, data, 0o600)
	f, err := Read(dir)
	if err != nil {
		t.Fatalf("forged manifest: %v (its checksum is right)", err)
	}
	if s := f.CheckSignature(key); s != SignatureBad {
		t.Errorf("forged manifest: signature %s, want bad", s)
	}
	// Unsigned: stripped of its signature.
	if err := Write(dir, &forged, nil); err != nil {
		t.Fatal(err)
	}
	f, _ = Read(dir)
	if s := f.CheckSignature(key); s != Unsigned {
		t.Errorf("stripped manifest: signature %s, want unsigned", s)
	}
}
