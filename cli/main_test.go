package cli

import (
	"os"
	"testing"

	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/s3test"
)

// The tests need a PostgreSQL cluster and, for the object store backups,
// an S3-compatible server; both start on first use.
func TestMain(m *testing.M) { os.Exit(s3test.Around(func() int { return pgtest.Run(m) })) }
