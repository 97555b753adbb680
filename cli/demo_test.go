package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/localpg"
)

// TestDemo runs `splitschema demo` briefly on an embedded cluster in an
// empty folder: the example shop comes from the binary itself.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	t.Cleanup(func() {
		if cl, err := localpg.New(dir, nil); err == nil {
			_ = cl.Destroy(context.Background())
		}
	})

	code, _, errOut := run(t, "--dir", dir, "demo", "--order", "orders,payments")
	if code != 1 || !strings.Contains(errOut, "must name each of the shop's services once") {
		t.Fatalf("bad --order: exit %d, stderr:\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, ".splitschema")); err == nil {
		t.Error("a refused demo touched the folder")
	}

	code, out, errOut := run(t, "--dir", dir, "--json", "demo", "--duration", "5s", "--interval", "500ms", "--rate", "50")
	if code != 0 {
		t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var res struct {
		OK    bool
		Links []struct {
			Name        string
			Independent int64 `json:"independent_backups"`
			Snapshot    int64 `json:"one_snapshot"`
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.OK || len(res.Links) == 0 {
		t.Fatalf("demo --json: %v\n%s", err, out)
	}
	for _, l := range res.Links {
		if l.Snapshot != 0 {
			t.Errorf("%s: %d broken after the snapshot restore", l.Name, l.Snapshot)
		}
	}
	if !strings.Contains(out, "orders.customer_order(customer_id) -> customers.customer(id)") {
		t.Errorf("the JSON does not name the links plainly:\n%s", out)
	}
}
