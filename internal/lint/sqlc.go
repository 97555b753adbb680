package lint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/splitschema/splitschema/internal/manifest"
)

// sqlcTimeout bounds `sqlc diff`; the first `go tool sqlc` may compile sqlc.
const sqlcTimeout = 10 * time.Minute

var diffHeader = regexp.MustCompile(`(?m)^--- a/(\S+)`)

// sqlcCommand picks how to run sqlc in dir: `go tool sqlc` when the
// module there has it as a tool, else an sqlc on PATH. It returns nil and
// why when there is neither.
func sqlcCommand(ctx context.Context, dir string) ([]string, string) {
	if goBin, err := exec.LookPath("go"); err == nil {
		cmd := exec.CommandContext(ctx, goBin, "tool", "-n", "sqlc")
		cmd.Dir = dir
		if err := cmd.Run(); err == nil {
			return []string{goBin, "tool", "sqlc"}, ""
		}
	}
	if bin, err := exec.LookPath("sqlc"); err == nil {
		return []string{bin}, ""
	}
	return nil, "neither `go tool sqlc` (the project's Go module has no sqlc tool: `go get -tool github.com/sqlc-dev/sqlc/cmd/sqlc`) nor an sqlc on PATH is available"
}

// checkSqlc runs `sqlc diff` in the project folder and reports every
// generated file that differs from what sqlc would write now. sqlcCmd
// overrides the command (for tests); nil picks one.
func checkSqlc(ctx context.Context, dir string, sqlcCmd []string, r *Report) {
	if _, err := os.Stat(filepath.Join(dir, manifest.SqlcFile)); errors.Is(err, fs.ErrNotExist) {
		return
	}
	cmdArgs := sqlcCmd
	if cmdArgs == nil {
		var why string
		if cmdArgs, why = sqlcCommand(ctx, dir); cmdArgs == nil {
			r.add(Finding{Severity: Warning, Check: CheckSqlc, File: manifest.SqlcFile,
				Message: "gen/ was not checked against the queries: " + why})
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, sqlcTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cmdArgs[0], append(cmdArgs[1:], "diff")...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r.Checked = append(r.Checked, "gen/ against sqlc")
	if err == nil {
		return
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		r.add(Finding{Severity: Warning, Check: CheckSqlc, File: manifest.SqlcFile,
			Message: fmt.Sprintf("could not run %s diff: %v", strings.Join(cmdArgs, " "), err)})
		return
	}
	out := stdout.String()
	if strings.Contains(stderr.String(), "no packages") {
		return // a project with no sqlc package yet
	}
	files := diffHeader.FindAllStringSubmatch(out, -1)
	if len(files) == 0 {
		msg := strings.TrimSpace(stderr.String() + "\n" + out)
		r.add(Finding{Severity: Error, Check: CheckSqlc, File: manifest.SqlcFile,
			Message: "sqlc diff failed:\n" + msg,
			Hint:    "fix the queries or sqlc.yaml until `sqlc generate` succeeds"})
		return
	}
	seen := map[string]bool{}
	for _, m := range files {
		if seen[m[1]] {
			continue
		}
		seen[m[1]] = true
		r.add(Finding{Severity: Error, Check: CheckSqlc, File: m[1],
			Message: "generated code is stale: it differs from what sqlc generates from the queries and migrations now",
			Hint:    "run `" + displayCommand(cmdArgs) + " generate` and commit the result"})
	}
}

// displayCommand renders the sqlc command without the go binary's path.
func displayCommand(args []string) string {
	if len(args) == 3 && args[1] == "tool" {
		return "go tool sqlc"
	}
	return filepath.Base(args[0])
}
