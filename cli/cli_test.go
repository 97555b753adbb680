package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// run invokes the command in-process and returns its exit code and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(append([]string{"splitschema"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// repoRoot is the example shop: the repository itself.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestValidateJSON(t *testing.T) {
	for _, args := range [][]string{
		{"--json", "--dir", repoRoot(t), "validate"},
		{"validate", "--dir", repoRoot(t), "--json"},
	} {
		code, out, errOut := run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %s", args, code, errOut)
		}
		var got struct {
			Services []struct {
				Name, Schema string
				Links        []string
			}
			Order []string
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: stdout is not one JSON document: %v\n%s", args, err, out)
		}
		want := []string{"catalog", "customers", "orders", "payments", "shipping"}
		if !slices.Equal(got.Order, want) {
			t.Errorf("order = %v, want %v", got.Order, want)
		}
		if len(got.Services) != 5 {
			t.Errorf("services = %d, want 5", len(got.Services))
		}
	}
}

func TestValidateBadManifest(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("splitschema.yaml", "database: shop\n")
	write("schemas/a.yaml", "name: a\nlinks: [b.t(id)]\n")
	write("schemas/b.yaml", "name: b\nlinks: [a.t(id)]\n")
	code, out, errOut := run(t, "--dir", dir, "validate")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if out != "" {
		t.Errorf("stdout = %q, want nothing", out)
	}
	if !strings.Contains(errOut, "schemas/a.yaml") || !strings.Contains(errOut, "a -> b -> a") {
		t.Errorf("stderr = %q, want the file and the cycle", errOut)
	}

	code, out, _ = run(t, "--json", "--dir", dir, "validate")
	if code != 1 {
		t.Fatalf("--json exit %d, want 1", code)
	}
	var doc struct {
		OK       bool
		Error    string
		Problems []struct{ File string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json failure is not JSON: %v\n%s", err, out)
	}
	if doc.OK || len(doc.Problems) != 1 || doc.Problems[0].File != "schemas/a.yaml" {
		t.Errorf("doc = %+v", doc)
	}
}

func TestGraph(t *testing.T) {
	code, out, _ := run(t, "--dir", repoRoot(t), "graph", "--format", "dot")
	if code != 0 || !strings.Contains(out, `"shipping" -> "customers" [label="customer(id)"]`) {
		t.Errorf("exit %d, dot:\n%s", code, out)
	}
	code, _, errOut := run(t, "--dir", repoRoot(t), "graph", "--format", "png")
	if code != 2 || !strings.Contains(errOut, "mermaid or dot") {
		t.Errorf("bad format: exit %d, stderr %q; want 2 and the choices", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"nosuchcommand"}, {"validate", "--nosuchflag"}} {
		code, _, errOut := run(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if !strings.Contains(errOut, "USAGE") && !strings.Contains(errOut, "Usage") {
			t.Errorf("%v: stderr lacks the usage:\n%s", args, errOut)
		}
	}
}

// copyTree copies the file or folder from to to.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	fi, err := os.Stat(from)
	if err != nil {
		t.Fatal(err)
	}
	if fi.IsDir() {
		err = os.CopyFS(to, os.DirFS(from))
	} else if data, rerr := os.ReadFile(from); rerr != nil {
		err = rerr
	} else if err = os.MkdirAll(filepath.Dir(to), 0o755); err == nil {
		err = os.WriteFile(to, data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}
