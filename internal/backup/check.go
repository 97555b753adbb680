package backup

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/manifest"
)

// CheckResult is what Check found.
type CheckResult struct {
	ID       string            `json:"id"`
	OK       bool              `json:"ok"`
	Path     string            `json:"path"`
	Files    int               `json:"files"`
	Bytes    int64             `json:"bytes"`
	Problems []archive.Problem `json:"problems"`
	// Restore is the result of the restore test, when one was asked for.
	Restore *RestoreResult `json:"restore_test,omitempty"`
}

// Human renders the result for people.
func (r *CheckResult) Human() string {
	var b strings.Builder
	if len(r.Problems) == 0 {
		fmt.Fprintf(&b, "backup %s: all %d files match the manifest (%s)\n", r.ID, r.Files, HumanBytes(r.Bytes))
	} else {
		fmt.Fprintf(&b, "backup %s is damaged: %d of %d files do not match the manifest:\n", r.ID, len(r.Problems), r.Files)
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "  %s\n", p)
		}
	}
	if r.Restore != nil {
		b.WriteString(r.Restore.Human())
	}
	return b.String()
}

// Check reads every file of backup id and compares it with the manifest.
func Check(ctx context.Context, p *manifest.Project, id string, jobs int) (*CheckResult, error) {
	root := Dir(p)
	dir, err := find(root, id)
	if err != nil {
		return nil, err
	}
	unlock, err := lockBackup(root, id, false, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	_, res, err := checkDir(ctx, dir, jobs, nil)
	return res, err
}

// checkDir reads dir's manifest and checks its files.
func checkDir(ctx context.Context, dir string, jobs int, done func(int64)) (*archive.Manifest, *CheckResult, error) {
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	m, err := archive.Read(dir)
	if err != nil {
		return nil, nil, err
	}
	res := &CheckResult{ID: m.ID, Path: dir, Files: len(m.Files), Bytes: m.Totals.Bytes}
	res.Problems, err = archive.Check(ctx, dir, m, jobs, done)
	if err != nil {
		return nil, nil, err
	}
	for _, must := range []string{archive.RolesFile, archive.DumpDir + "/toc.dat"} {
		listed := false
		for _, f := range m.Files {
			listed = listed || f.Path == must
		}
		if !listed {
			res.Problems = append(res.Problems, archive.Problem{Path: must, Problem: "not listed in the manifest: the manifest is not a splitschema backup's"})
		}
	}
	if res.Problems == nil {
		res.Problems = []archive.Problem{}
	}
	res.OK = len(res.Problems) == 0
	return m, res, nil
}

// ProblemsError is returned by Restore when the backup's files do not
// match its manifest; it names each bad file.
type ProblemsError struct {
	ID       string
	Problems []archive.Problem
}

// Error names every bad file.
func (e *ProblemsError) Error() string {
	var parts []string
	for _, p := range e.Problems {
		parts = append(parts, p.String())
	}
	return fmt.Sprintf("backup %s is damaged, refusing to restore it: %s", e.ID, strings.Join(parts, "; "))
}
