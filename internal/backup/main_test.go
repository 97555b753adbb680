package backup

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/splitschema/splitschema/internal/backup/backuptest"
	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/s3test"
	"github.com/splitschema/splitschema/internal/target"
	"github.com/splitschema/splitschema/internal/verify"
)

// The tests need a PostgreSQL cluster and, for object store repositories,
// an S3-compatible server; both start on first use.
func TestMain(m *testing.M) { os.Exit(s3test.Around(func() int { return pgtest.Run(m) })) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// passAudit stands in for the isolation audit.
func passAudit(context.Context, *target.Server) (verify.AuditResult, error) {
	return verify.AuditResult{OK: true}, nil
}

func mustBackup(t *testing.T, shop *backuptest.Shop, o Options) *Result {
	t.Helper()
	if o.Jobs == 0 {
		o.Jobs = 2
	}
	res, err := Run(testCtx(t), shop.Project, shop.Server, o)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return res
}

func restoreOpts(db string) RestoreOptions {
	return RestoreOptions{TargetDB: db, Jobs: 2, Audit: passAudit}
}
