package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	ucli "github.com/urfave/cli/v2"

	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/target"
)

func localCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "local",
		Usage: "manage the embedded local cluster under <dir>/.splitschema/local",
		Subcommands: []*ucli.Command{
			{Name: "start", Usage: "start the local cluster (creates it on first use; a no-op when running)", Action: action(runLocalStart)},
			{Name: "stop", Usage: "stop the local cluster", Action: action(runLocalStop)},
			{Name: "status", Usage: "say whether the local cluster runs (exit 1 when not)", Action: action(runLocalStatus)},
			{Name: "url", Usage: "print the admin URL of the local cluster (it holds the password); in a project it names the project's database", Action: action(runLocalURL)},
			{
				Name:  "destroy",
				Usage: "stop the local cluster and delete it, its data included (needs --yes)",
				Flags: []ucli.Flag{&ucli.BoolFlag{Name: "yes", Usage: "yes, delete the cluster and every database in it"}},
				Description: "Deletes the data folder, the socket and log, and the state under .splitschema/local. It refuses a\n" +
					"data folder that does not look like one splitschema made. Backups are not touched.",
				Action: action(runLocalDestroy),
			},
			{Name: "psql", Usage: "open psql on the local cluster", ArgsUsage: "[-- psql args]", Action: action(runLocalPsql)},
		},
	}
}

// localStatus prints a localpg.Status for people.
type localStatus struct{ localpg.Status }

func (s localStatus) Human() string {
	switch {
	case !s.Initialized:
		return fmt.Sprintf("not created yet (it will live in %s); `splitschema local start` creates it\n", s.DataDir)
	case !s.Running:
		return fmt.Sprintf("stopped (data in %s)\n", s.DataDir)
	}
	return fmt.Sprintf("running: PostgreSQL %d on 127.0.0.1:%d and socket %s (data in %s, log %s)\n",
		s.Version, s.Port, s.SocketDir, s.DataDir, s.LogFile)
}

func (e *env) cluster() (*localpg.Cluster, error) {
	var opts []localpg.Option
	if e.serverBinDir != "" {
		opts = append(opts, localpg.WithBinDir(e.serverBinDir))
	}
	return localpg.New(e.dir, e.log, opts...)
}

func (e *env) localStatus(cl *localpg.Cluster) (localStatus, error) {
	st, err := cl.Status(e.ctx)
	return localStatus{st}, err
}

func runLocalStart(e *env) error {
	cl, err := e.cluster()
	if err != nil {
		return err
	}
	if err := cl.Start(e.ctx); err != nil {
		return err
	}
	st, err := e.localStatus(cl)
	if err != nil {
		return err
	}
	return e.emit(st)
}

func runLocalStop(e *env) error {
	cl, err := e.cluster()
	if err != nil {
		return err
	}
	if err := cl.Stop(e.ctx); err != nil {
		return err
	}
	st, err := e.localStatus(cl)
	if err != nil {
		return err
	}
	return e.emit(st)
}

func runLocalStatus(e *env) error {
	cl, err := e.cluster()
	if err != nil {
		return err
	}
	st, err := e.localStatus(cl)
	if err != nil {
		return err
	}
	if err := e.emit(st); err != nil {
		return err
	}
	if !st.Running {
		return exitFindings()
	}
	return nil
}

func runLocalDestroy(e *env) error {
	cl, err := e.cluster()
	if err != nil {
		return err
	}
	st, err := e.localStatus(cl)
	if err != nil {
		return err
	}
	if !e.c.Bool("yes") {
		return usageErr(e.c, fmt.Errorf("local destroy deletes the cluster in %s with every database in it: run it again with --yes", st.DataDir))
	}
	if err := cl.Destroy(e.ctx); err != nil {
		return err
	}
	return e.emit(localDestroyed{DataDir: st.DataDir, Existed: st.Initialized})
}

// localDestroyed is what `local destroy` did.
type localDestroyed struct {
	DataDir string `json:"data_dir"`
	Existed bool   `json:"existed"`
}

func (d localDestroyed) Human() string {
	if !d.Existed {
		return fmt.Sprintf("no local cluster here (it would live in %s): nothing to delete\n", d.DataDir)
	}
	return fmt.Sprintf("deleted the local cluster (data was in %s)\n", d.DataDir)
}

type localURL struct {
	URL string `json:"url"`
}

func (u localURL) Human() string { return u.URL + "\n" }

func runLocalURL(e *env) error {
	cl, err := e.cluster()
	if err != nil {
		return err
	}
	st, err := e.localStatus(cl)
	if err != nil {
		return err
	}
	if !st.Running {
		return errors.New("the local cluster is not running; start it with `splitschema local start`")
	}
	u, err := cl.AdminURL()
	if err != nil {
		return err
	}
	// In a project, the URL names the project's database, so that
	// --database-url "$(splitschema local url)" works on it.
	if st, serr := manifest.LoadSettings(e.dir); serr == nil {
		srv, err := target.FromURL(u, st.Database)
		if err != nil {
			return err
		}
		u = srv.URL(st.Database)
	}
	return e.emit(localURL{URL: u})
}

func runLocalPsql(e *env) error {
	cl, err := e.cluster()
	if err != nil {
		return err
	}
	if err := cl.Start(e.ctx); err != nil {
		return err
	}
	// The password reaches psql through a 0600 passfile, never argv.
	clientEnv, err := cl.ClientEnv(os.Environ())
	if err != nil {
		return err
	}
	db := "postgres"
	if p, err := e.project(); err == nil && databaseExists(e, cl, p.Settings.Database) {
		db = p.Settings.Database
	}
	clientEnv = append(clientEnv, "PGDATABASE="+db)
	cmd := exec.CommandContext(e.ctx, cl.Binaries().Path("psql"), e.c.Args().Slice()...)
	cmd.Env = clientEnv
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.c.App.Reader, e.stdout, e.stderr
	if err := cmd.Run(); err != nil {
		var xe *exec.ExitError
		if errors.As(err, &xe) {
			return ucli.Exit("", xe.ExitCode())
		}
		return fmt.Errorf("run psql: %w", err)
	}
	return nil
}

// databaseExists tells whether the cluster has database db yet.
func databaseExists(e *env, cl *localpg.Cluster, db string) bool {
	admin, err := cl.AdminURL()
	if err != nil {
		return false
	}
	srv, err := target.FromURL(admin, db)
	if err != nil {
		return false
	}
	conn, err := srv.Connect(e.ctx, db)
	if err != nil {
		return false
	}
	_ = conn.Close(e.ctx)
	return true
}
