package svcrestore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/backup/backuptest"
)

// TestRestoreJudgesSignature: a one-service restore judges the backup's
// signature as a whole restore does. With a key configured, an unsigned
// backup is refused (and accepted with AllowUnsigned), and one signed with
// another key is refused; nothing changes either time.
func TestRestoreJudgesSignature(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	unsigned := mustBackup(t, shop)
	writeKey := func(name, secret string) string {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(secret), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	shop.Project.Settings.BackupKeyFile = writeKey("first.key", "the first secret of at least thirty-two bytes\n")
	signed := mustBackup(t, shop)
	shop.Project.Settings.BackupKeyFile = writeKey("second.key", "the second secret of at least thirty-two bytes\n")

	before := digest(t, shop.URL, shopSchemas...)
	for _, c := range []struct{ id, want string }{
		{unsigned.ID, "unsigned backup is refused"},
		{signed.ID, "signed with another key"},
	} {
		_, err := Restore(testCtx(t), shop.Project, shop.Server, c.id, Options{Services: []string{"payments"}, DryRun: true})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("restore --service of %s: err = %v, want %q", c.id, err, c.want)
		}
	}
	sameDigest(t, "after refused restores", digest(t, shop.URL, shopSchemas...), before)
	if _, err := Restore(testCtx(t), shop.Project, shop.Server, unsigned.ID, Options{Services: []string{"payments"}, DryRun: true, AllowUnsigned: true}); err != nil {
		t.Errorf("restore --service --allow-unsigned of an unsigned backup: %v", err)
	}
}
