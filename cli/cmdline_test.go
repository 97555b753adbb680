package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNormalizeArgs(t *testing.T) {
	app := NewApp()
	for _, c := range []struct{ in, want string }{
		{"restore ID --target-db copy", "restore --target-db copy -- ID"},
		{"restore --target-db copy ID", "restore --target-db copy -- ID"},
		{"--dir d restore ID -j 2 --json", "--dir d restore -j 2 --json -- ID"},
		{"restore ID --help", "restore --help"},
		{"service add orders --link a.b(c) --description x", "service add --link a.b(c) --description x -- orders"},
		{"local psql -- -XAtc SELECT", "local psql -- -XAtc SELECT"},
		{"init -- --dir", "init -- --dir"},
		{"backup verify ID --restore-test", "backup verify --restore-test -- ID"},
		{"graph --format -x", "graph --format -x"}, // a value that looks like a flag
		{"nosuch --x y", "nosuch --x y"},
		{"validate", "validate"},
		{"restore ID " + completionFlag, "restore " + completionFlag}, // completing never runs restore
		{"restore ID -- x " + completionFlag, "restore " + completionFlag},
	} {
		got := strings.Join(normalizeArgs(app, append([]string{"splitschema"}, strings.Fields(c.in)...))[1:], " ")
		if got != c.want {
			t.Errorf("normalize(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestHelpRunsNothing: --help or -h, wherever it stands, shows the help and
// runs nothing. In an empty folder a command that ran would fail (no
// project) or write files (init, service add).
func TestHelpRunsNothing(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"restore", "20260101T000000Z", "--help"},
		{"restore", "--help", "20260101T000000Z"},
		{"restore", "20260101T000000Z", "-h", "--target-db", "x"},
		{"service", "add", "orders", "--help"},
		{"init", dir, "--help"},
		{"backup", "verify", "ID", "--restore-test", "-h"},
		{"apply", "--help"},
		{"help", "restore"},
	} {
		code, out, errOut := run(t, append([]string{"--dir", dir}, args...)...)
		if code != 0 || !strings.Contains(out, "USAGE") {
			t.Errorf("%v: exit %d, want 0 and the help on stdout\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("%v wrote into the project folder", args)
		}
	}
	if _, out, _ := run(t, "help", "restore"); !strings.Contains(out, "--target-db") {
		t.Errorf("help restore does not show restore's flags:\n%s", out)
	}
}

// TestStrayArgumentsExit2: a command that takes no arguments refuses them
// with a usage error before doing anything; with --json stdout still
// carries one JSON document.
func TestStrayArgumentsExit2(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"validate", "x"}, {"graph", "x"}, {"audit", "x"}, {"url", "--service", "s", "x"}, {"plan", "x"},
		{"provision", "users"}, {"local", "status", "x"}, {"local", "start", "x"}, {"apply", "x"},
		{"migrate", "up", "x"}, {"backup", "x"}, {"backup", "list", "x"}, {"lint", "x"}, {"version", "x"},
	} {
		code, out, errOut := run(t, append([]string{"--dir", dir}, args...)...)
		if code != 2 || !strings.Contains(errOut, "takes no arguments") {
			t.Errorf("%v: exit %d, want 2 and a usage error\nstderr: %s", args, code, errOut)
		}
		if out != "" {
			t.Errorf("%v: stdout = %q, want nothing without --json", args, out)
		}
		code, out, _ = run(t, append([]string{"--dir", dir, "--json"}, args...)...)
		var doc struct {
			OK         bool   `json:"ok"`
			UsageError bool   `json:"usage_error"`
			Error      string `json:"error"`
		}
		if err := json.Unmarshal([]byte(out), &doc); code != 2 || err != nil || doc.OK || !doc.UsageError || doc.Error == "" {
			t.Errorf("%v --json: exit %d, stdout %q (%v); want 2 and one JSON document", args, code, out, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused command wrote into the folder")
	}
}

// TestJSONUsageErrors: an unknown flag or command with --json still prints
// the one JSON document.
func TestJSONUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--json", "validate", "--nosuchflag"}, {"validate", "--json", "--nosuchflag"}, {"--json", "nosuchcommand"},
		{"restore", "--json"}, {"--json", "graph", "--format", "png"},
	} {
		code, out, _ := run(t, args...)
		var doc map[string]any
		if err := json.Unmarshal([]byte(out), &doc); code != 2 || err != nil || doc["usage_error"] != true {
			t.Errorf("%v: exit %d, stdout %q (%v); want 2 and one JSON document", args, code, out, err)
		}
	}
}

func TestFlagsAfterArguments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	if code, _, errOut := run(t, "init", dir, "--database", "myshop", "--prefix", "my_"); code != 0 {
		t.Fatalf("init DIR --database: exit %d: %s", code, errOut)
	}
	data, err := os.ReadFile(filepath.Join(dir, "splitschema.yaml"))
	if err != nil || !strings.Contains(string(data), "database: myshop") || !strings.Contains(string(data), `prefix: "my_"`) {
		t.Fatalf("settings after init DIR --database myshop --prefix my_:\n%s", data)
	}
	if code, _, errOut := run(t, "service", "add", "customers", "--dir", dir, "--description", "Who buys."); code != 0 {
		t.Fatalf("service add NAME --dir: exit %d: %s", code, errOut)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "schemas", "customers.yaml")); !strings.Contains(string(data), "Who buys.") {
		t.Errorf("the flag after the name was lost:\n%s", data)
	}
}

func TestVersionCompletionSuggest(t *testing.T) {
	code, out, _ := run(t, "version", "--json")
	var v buildInfo
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Version == "" || !strings.HasPrefix(v.GoVersion, "go") {
		t.Errorf("version --json: exit %d, %q (%v)", code, out, err)
	}
	if code, out, _ := run(t, "version"); code != 0 || !strings.HasPrefix(out, "splitschema ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	code, out, _ = run(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "complete -o bashdefault -o default -F _splitschema splitschema") {
		t.Errorf("completion bash: exit %d\n%s", code, out)
	}
	if code, _, _ := run(t, "completion", "fish"); code != 2 {
		t.Errorf("completion fish: exit %d, want 2", code)
	}
	// urfave/cli's completion reads os.Args (the test binary's here): only
	// check that completing after an argument never runs the command.
	dir := t.TempDir()
	if code, _, errOut := run(t, "--dir", dir, "restore", "ID", completionFlag); code != 0 || strings.Contains(errOut, "splitschema.yaml") {
		t.Errorf("completing restore ID: exit %d, stderr %s; want nothing run", code, errOut)
	}
	code, _, errOut := run(t, "valdate")
	if code != 2 || !strings.Contains(errOut, `did you mean "validate"?`) {
		t.Errorf("valdate: exit %d, stderr %s", code, errOut)
	}
	if _, _, errOut := run(t, "zzzzzz"); strings.Contains(errOut, "did you mean") {
		t.Errorf("zzzzzz: a suggestion for nothing close: %s", errOut)
	}
}
