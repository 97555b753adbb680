package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/provision/provisiontest"
)

// copyRealshop copies examples/realshop into a temp folder with a role
// prefix of its own.
func copyRealshop(tb testing.TB, prefix string) string {
	tb.Helper()
	dir := tb.TempDir()
	src := filepath.Join(provisiontest.RepoRoot(tb), "examples", "realshop")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		tb.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "splitschema.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	mustWrite(tb, dir, "splitschema.yaml", strings.TrimRight(string(conf), "\n")+"\nnaming:\n  prefix: "+prefix+"\n")
	return dir
}

func TestApplyRealshop(t *testing.T) {
	dir := copyRealshop(t, "rs1_")
	p := mustLoad(t, dir)
	srv := newServer(t)
	res, err := Apply(provisiontest.Context(t), p, srv, Options{})
	if err != nil {
		if res != nil {
			t.Log(res.Human())
		}
		t.Fatalf("apply: %v", err)
	}
	if !res.OK {
		t.Fatalf("apply not OK:\n%s", res.Human())
	}
}
