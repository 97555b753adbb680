package provision_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/target"
)

// chain is a project of n generated services, each linking to the one
// before it, provisioned, with one table per service and its link granted.
func chain(b *testing.B, n int) (*manifest.Project, *target.Server) {
	b.Helper()
	dir := b.TempDir()
	if err := os.Mkdir(filepath.Join(dir, manifest.SchemasDir), 0o755); err != nil {
		b.Fatal(err)
	}
	mustWrite(b, filepath.Join(dir, manifest.SettingsFile), fmt.Sprintf("database: bench\nnaming:\n  prefix: b%d_\n", n))
	for i := range n {
		links := ""
		if i > 0 {
			links = fmt.Sprintf("links:\n  - s%04d.t(id)\n", i-1)
		}
		mustWrite(b, filepath.Join(dir, manifest.SchemasDir, fmt.Sprintf("s%04d.yaml", i)), fmt.Sprintf("name: s%04d\n%s", i, links))
	}
	p := mustLoad(b, dir)
	srv := mustServer(b)
	mustApply(b, p, srv)
	conn := mustConnect(b, srv)
	for _, svc := range p.OrderedServices() {
		mustExec(b, conn, fmt.Sprintf("SET ROLE %s; CREATE TABLE %s (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text); RESET ROLE",
			q(p.OwnerRole(svc.Name)), q(svc.Schema, "t")))
		if err := provision.GrantLinks(ctxFor(b), conn, p, svc.Name); err != nil {
			b.Fatal(err)
		}
	}
	return p, srv
}

// BenchmarkPlan500 plans 500 provisioned services that need nothing: one
// catalog read, the desired state in memory, a diff by maps.
func BenchmarkPlan500(b *testing.B) {
	p, srv := chain(b, 500)
	b.ResetTimer()
	for b.Loop() {
		if cs := mustPlan(b, p, srv); cs.Pending != 0 {
			b.Fatalf("plan: %d changes pending", cs.Pending)
		}
	}
}
