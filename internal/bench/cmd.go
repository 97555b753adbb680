package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

// Main is the bench command: it parses args (flags, with SCALE, RUNS,
// ONLY and DATABASE_URL from the environment as defaults), runs the
// benchmark, prints the markdown table to stdout and progress to stderr,
// and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, cfg)
	if rep != nil && len(rep.rows) > 0 {
		fmt.Fprint(stdout, rep.Markdown())
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if cfg.Report != "" {
		if err := rep.WriteInto(cfg.Report); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "bench: table written into %s\n", cfg.Report)
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (Config, error) {
	cfg := Config{Progress: stderr}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scale, err := envFloat("SCALE", 1)
	if err != nil {
		return cfg, err
	}
	runs, err := envInt("RUNS", 3)
	if err != nil {
		return cfg, err
	}
	fs.Float64Var(&cfg.Scale, "scale", scale, "shop size: 1 is about 340 MiB of table data (env SCALE)")
	fs.IntVar(&cfg.Runs, "runs", runs, "runs of each measurement; the table shows medians (env RUNS)")
	only := fs.String("only", os.Getenv("ONLY"), "comma-separated scenarios to run: backup, restore, service, workload, provision, migrate, stall, pitr (env ONLY; default all)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", os.Getenv("DATABASE_URL"), "admin `URL` of a server to use (env DATABASE_URL; default PG* variables, else an embedded cluster of its own)")
	fs.StringVar(&cfg.Report, "report", "BENCHMARKS.md", "markdown `FILE` whose benchmark section gets the table; empty writes none")
	fs.BoolVar(&cfg.Verbose, "verbose", false, "also print the debug logs of backup and restore, with their timings")
	fs.IntVar(&cfg.Jobs, "jobs", 0, "parallel jobs of splitschema and the tuned baselines (default: the CPU count)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.Only = splitList(*only)
	return cfg, cfg.check()
}

func envFloat(name string, def float64) (float64, error) {
	s := os.Getenv(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a number", name, s)
	}
	return v, nil
}

func envInt(name string, def int) (int, error) {
	s := os.Getenv(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a whole number", name, s)
	}
	return v, nil
}
