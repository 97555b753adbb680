package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/target"
)

// env is what every command's action gets: the parsed global flags, the
// output streams and a logger.
type env struct {
	ctx     context.Context
	c       *ucli.Context
	stdout  io.Writer
	stderr  io.Writer
	json    bool
	verbose bool
	dir     string
	dbURL   string
	// anyDB is --use-url-database: the URL may name another database
	// than the project's.
	anyDB bool
	// serverBinDir is --server-bindir: the embedded cluster's programs.
	serverBinDir string
	log          *slog.Logger
}

// action wraps a command body: it builds the env, runs fn, and in --json
// mode turns a failure into the one JSON document on stdout.
func action(fn func(e *env) error) ucli.ActionFunc {
	return func(c *ucli.Context) error {
		e := newEnv(c)
		var err error
		if strings.TrimSpace(c.Command.ArgsUsage) == "" && c.NArg() > 0 {
			// A command that takes no argument: `provision users` must not
			// provision everything.
			err = usageErr(c, fmt.Errorf("%s takes no arguments, got %q", c.Command.FullName(), c.Args().Slice()))
		} else {
			err = fn(e)
		}
		if err == nil || errors.Is(err, errReported) {
			return err
		}
		var ue *usageError
		if errors.As(err, &ue) {
			return err
		}
		if e.json {
			doc := map[string]any{"ok": false, "error": err.Error()}
			var merr *manifest.Error
			if errors.As(err, &merr) {
				doc["problems"] = merr.Problems
			}
			_ = e.writeJSON(doc)
		}
		e.log.Debug("command failed", "err", err)
		return err
	}
}

func newEnv(c *ucli.Context) *env {
	e := &env{
		ctx:     c.Context,
		c:       c,
		stdout:  c.App.Writer,
		stderr:  c.App.ErrWriter,
		json:    globalBool(c, "json"),
		verbose: globalBool(c, "verbose"),
		dir:     globalString(c, "dir"),
		dbURL:   globalString(c, "database-url"),
		anyDB:   globalBool(c, "use-url-database"),

		serverBinDir: globalString(c, "server-bindir"),
	}
	if e.ctx == nil {
		e.ctx = context.Background()
	}
	if e.dir == "" {
		e.dir = "."
	}
	if !globalIsSet(c, "dir") {
		e.dir = findProject(e.dir)
	}
	level := slog.LevelInfo
	if e.verbose {
		level = slog.LevelDebug
	}
	e.log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	return e
}

// globalBool and globalString read a global flag wherever on the command
// line it was given.
func globalBool(c *ucli.Context, name string) bool {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) && cc.Bool(name) {
			return true
		}
	}
	return false
}

func globalIsSet(c *ucli.Context, name string) bool {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return true
		}
	}
	return false
}

// findProject returns the project folder for a command run without --dir:
// the nearest of dir and its parents that holds splitschema.yaml, as git
// finds its repository, so that `local start` in a subfolder uses the
// project's cluster instead of making a second one. Without one, dir.
func findProject(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	for d, up := abs, dir; ; d, up = filepath.Dir(d), filepath.Join(up, "..") {
		if _, err := os.Stat(filepath.Join(d, manifest.SettingsFile)); err == nil {
			return up
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

func globalString(c *ucli.Context, name string) string {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return cc.String(name)
		}
	}
	return c.String(name)
}

// project loads and validates the project in --dir.
// --repo, when given, replaces backups: of splitschema.yaml.
func (e *env) project() (*manifest.Project, error) {
	p, err := manifest.Load(e.dir)
	if err != nil {
		return nil, err
	}
	if r := globalString(e.c, "repo"); r != "" {
		p.Settings.Backups = r
	}
	return p, nil
}

// server resolves the server to work on, starting the embedded cluster
// when no URL is given.
func (e *env) server(p *manifest.Project) (*target.Server, error) {
	return target.Resolve(e.ctx, target.Options{
		URL:                e.dbURL,
		ProjectDir:         e.dir,
		DefaultDatabase:    p.Settings.Database,
		AllowOtherDatabase: e.anyDB,
		ServerBinDir:       e.serverBinDir,
		Logger:             e.log,
	})
}

// projectServer loads the project, then resolves its server.
func (e *env) projectServer() (*manifest.Project, *target.Server, error) {
	p, err := e.project()
	if err != nil {
		return nil, nil, err
	}
	srv, err := e.server(p)
	if err != nil {
		return nil, nil, err
	}
	return p, srv, nil
}

// human is a result that knows how to print itself for people.
type human interface{ Human() string }

// emit prints a command's result: JSON with --json, else its Human() text.
func (e *env) emit(result any) error {
	if e.json {
		return e.writeJSON(result)
	}
	if h, ok := result.(human); ok {
		_, err := io.WriteString(e.stdout, h.Human())
		return err
	}
	_, err := fmt.Fprintln(e.stdout, result)
	return err
}

func (e *env) writeJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// exitFindings ends a command whose result was printed but reports
// findings (a failed check): exit code 1, no further message.
func exitFindings() error { return errReported }

// stderrIsTerminal tells whether progress lines are welcome.
func (e *env) stderrIsTerminal() bool {
	f, ok := e.stderr.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// needArgs checks the number of positional arguments.
func needArgs(e *env, n int, what string) error {
	if e.c.NArg() != n {
		return usageErr(e.c, fmt.Errorf("%s: want %s", e.c.Command.FullName(), what))
	}
	return nil
}
