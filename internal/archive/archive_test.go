package archive

import (
	"context"
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
