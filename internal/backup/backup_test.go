package backup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/backup/backuptest"
)

func TestBackupRestoreVerify(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	res := mustBackup(t, shop, Options{})
	t.Logf("backup %s: %d tables, %d rows, %d bytes, %.2fs", res.ID, res.Tables, res.Rows, res.Bytes, res.Seconds)
	if res.Tables < 6 {
		t.Errorf("tables = %d, want at least 6", res.Tables)
	}
	fi, err := os.Stat(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("backup folder mode = %v, want 0700", fi.Mode().Perm())
	}
	m, err := archive.Read(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		fi, err := os.Stat(filepath.Join(res.Path, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", f.Path, fi.Mode().Perm())
		}
	}
	db := shop.Server.Database + "_copy"
	o := restoreOpts(db)
	o.Audit = backuptest.Audit(shop.Project)
	rr, err := Restore(testCtx(t), shop.Project, shop.Server, res.ID, o)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	t.Log(rr.Human())
	if !rr.OK {
		t.Fatalf("restore not ok")
	}
}
