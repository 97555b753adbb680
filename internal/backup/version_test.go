package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/backup/backuptest"
	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/pgtest"
)

// TestPgDumpOlderThanServer: against a server newer than the pg_dump backup
// finds by itself (the server's folder, the installed PostgreSQL, PATH),
// backup refuses before writing anything and says why and what to do. It
// needs such a server: make test runs it on PostgreSQL 18, whose packages
// hold no pg_dump while only 15's is installable here. With a pg_dump new
// enough it is skipped, saying so; TestOldPgDump shows the refusal with a
// stand-in then.
func TestPgDumpOlderThanServer(t *testing.T) {
	t.Parallel()
	bins := pgtest.Server(t).Binaries
	path, err := toolPath("pg_dump", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	full, major, err := localpg.ProgramVersion(testCtx(t), path)
	if err != nil {
		t.Fatal(err)
	}
	if major >= bins.Version {
		t.Skipf("pg_dump %s (%s) can dump PostgreSQL %s: this test needs a newer server (make test runs it on 18)", full, path, bins.FullVersion)
	}
	shop := backuptest.New(t)
	_, err = Run(testCtx(t), shop.Project, shop.Server, Options{Jobs: 2})
	if !errors.Is(err, ErrToolTooOld) {
		t.Fatalf("backup with pg_dump %s against PostgreSQL %s: err = %v, want ErrToolTooOld", full, bins.FullVersion, err)
	}
	for _, want := range []string{
		"pg_dump " + full, fmt.Sprintf("PostgreSQL %d.", bins.Version),
		fmt.Sprintf("at least the server's major version %d", bins.Version),
		fmt.Sprintf("install postgresql-client-%d or pass --pg-bindir", bins.Version),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := os.Stat(Dir(shop.Project)); err == nil {
		if l, _ := List(context.Background(), shop.Project); len(l.Backups) != 0 {
			t.Errorf("backups = %+v, want none", l.Backups)
		}
	}
}
