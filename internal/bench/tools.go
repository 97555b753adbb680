package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// runTool runs a PostgreSQL client program (pg_dump, pg_restore) against
// database db as the admin. The password goes through the environment
// (target.Server.ToolEnv), never the command line.
func (e *env) runTool(ctx context.Context, db, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, e.tool(name), args...)
	cmd.Env = e.admin.ToolEnv(db)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 2000 {
			msg = "…" + msg[len(msg)-2000:]
		}
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return nil
}
