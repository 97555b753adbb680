// Package cli is the splitschema command: it reads flags, calls into the
// internal packages and prints their results. It holds no SQL.
package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"

	ucli "github.com/urfave/cli/v2"
)

// Version is the splitschema version, set at build time with -ldflags.
var Version = "dev"

// globalFlags are accepted before the command and after it.
func globalFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "dir", Value: ".", Usage: "project `DIR` (holds splitschema.yaml and schemas/)"},
		&ucli.StringFlag{Name: "database-url", EnvVars: []string{"DATABASE_URL"}, Usage: "admin `URL` of the server; the libpq PG* variables are honoured too; default: the embedded local cluster"},
		&ucli.BoolFlag{Name: "use-url-database", Usage: "work on the database --database-url (or PGDATABASE) names even when it is not the project's database (refused otherwise)"},
		&ucli.StringFlag{Name: "server-bindir", EnvVars: []string{"SPLITSCHEMA_SERVER_BINDIR"}, Usage: "`DIR` holding the initdb, pg_ctl and postgres the embedded local cluster runs (default: found on PATH or installed)"},
		&ucli.StringFlag{Name: "repo", EnvVars: []string{"SPLITSCHEMA_REPO"}, Usage: "backup repository: a `FOLDER` or s3://bucket/prefix (default: backups: of splitschema.yaml)"},
		&ucli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout; logs go to stderr"},
		&ucli.BoolFlag{Name: "verbose", Usage: "log more"},
	}
}

// NewApp builds the splitschema command line application.
func NewApp() *ucli.App {
	app := &ucli.App{
		Name:                 "splitschema",
		Usage:                "one shared PostgreSQL database, one isolated schema per microservice, one consistent backup",
		Version:              readBuildInfo().Version,
		Flags:                globalFlags(),
		EnableBashCompletion: true,
		Commands:             commands(),
		CommandNotFound: func(c *ucli.Context, name string) {
			msg := fmt.Sprintf("no command %q", name)
			if s := suggest(c, name); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			fmt.Fprintf(c.App.ErrWriter, "splitschema: %s\n\n", msg)
			showHelp(c)
			c.App.Metadata[notFoundKey] = msg
		},
		OnUsageError: func(c *ucli.Context, err error, _ bool) error {
			return usageErr(c, err)
		},
		ExitErrHandler: func(*ucli.Context, error) {}, // Main decides the exit code
		Metadata:       map[string]any{},
	}
	for _, cmd := range app.Commands {
		addGlobalFlags(cmd)
	}
	return app
}

func commands() []*ucli.Command {
	var cmds []*ucli.Command
	cmds = append(cmds, validateCommands()...)
	cmds = append(cmds, localCommand())
	cmds = append(cmds, provisionCommands()...)
	cmds = append(cmds, pipelineCommands()...)
	cmds = append(cmds, backupCommands()...)
	cmds = append(cmds, pitrCommand())
	cmds = append(cmds, importCommand())
	cmds = append(cmds, demoCommand())
	cmds = append(cmds, versionCommand(), completionCommand())
	return cmds
}

// addGlobalFlags lets the global flags follow a command too:
// `splitschema validate --json` works like `splitschema --json validate`.
func addGlobalFlags(cmd *ucli.Command) {
	if cmd.OnUsageError == nil {
		cmd.OnUsageError = func(c *ucli.Context, err error, _ bool) error { return usageErr(c, err) }
	}
	if len(cmd.Subcommands) > 0 {
		for _, sub := range cmd.Subcommands {
			addGlobalFlags(sub)
		}
		if cmd.Action == nil {
			return
		}
	}
	cmd.Flags = append(cmd.Flags, globalFlags()...)
	if len(cmd.Subcommands) == 0 {
		cmd.HideHelpCommand = true // no `restore help`: help is --help
	}
}

// Main runs the application on args and returns the process exit code:
// 0 on success, 1 on failure or findings, 2 on a usage error.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := NewApp()
	app.Reader, app.Writer, app.ErrWriter = stdin, stdout, stderr
	args = normalizeArgs(app, args)
	err := app.Run(args)
	if err == nil {
		if msg, ok := app.Metadata[notFoundKey].(string); ok {
			usageJSON(stdout, args, msg)
			return 2
		}
		return 0
	}
	return exitCode(err, args, stdout, stderr)
}

// exitCode prints a command's error on stderr and returns the exit status
// it means: 2 for a usage error, 1 for any other failure, or what cli.Exit
// asked for.
func exitCode(err error, args []string, stdout, stderr io.Writer) int {
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "splitschema: %s\n", ue.err)
		usageJSON(stdout, args, ue.err.Error())
		return 2
	}
	// Only exit codes given on purpose (cli.Exit): a wrapped
	// *exec.ExitError is an ExitCoder too, whose code (-1 for a program
	// killed by a signal, which would exit 255) is not ours to give.
	var ec ucli.ExitCoder
	var xe *exec.ExitError
	if errors.As(err, &ec) && !errors.As(err, &xe) && ec.ExitCode() > 0 {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintf(stderr, "splitschema: %s\n", msg)
		}
		return ec.ExitCode()
	}
	if !errors.Is(err, errReported) {
		fmt.Fprintf(stderr, "splitschema: %s\n", err)
	}
	return 1
}

// usageError is a mistake in the command line; the usage has been shown.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }

func usageErr(c *ucli.Context, err error) error {
	showHelp(c)
	return &usageError{err: err}
}

// usageJSON prints, when the command line asked for --json, the one JSON
// document a usage error still owes stdout.
func usageJSON(stdout io.Writer, args []string, msg string) {
	for _, a := range args[1:] {
		if a == "--" {
			return
		}
		if a == "--json" || a == "-json" || a == "--json=true" {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(map[string]any{"ok": false, "usage_error": true, "error": msg})
			return
		}
	}
}

// notFoundKey marks, in App.Metadata, a run that named no known command;
// it holds the message.
const notFoundKey = "command-not-found"

// showHelp prints the usage of the current command on stderr, keeping
// stdout for results.
func showHelp(c *ucli.Context) {
	w := c.App.Writer
	c.App.Writer = c.App.ErrWriter
	defer func() { c.App.Writer = w }()
	if c.Command != nil && c.Command.Name != "" {
		_ = ucli.ShowSubcommandHelp(c)
	} else {
		_ = ucli.ShowAppHelp(c)
	}
}

// errReported is returned after the failure has already been printed (as
// JSON, for instance): Main only sets the exit code.
var errReported = errors.New("reported")
