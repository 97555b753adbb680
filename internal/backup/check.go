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
	// Signature is what the check of the manifest's signature found.
	Signature archive.Signature `json:"signature"`
	// Warnings say what could not be checked (an unsigned backup, a
	// signature without a key to check it).
	Warnings []string `json:"warnings"`
	// Restore is the result of the restore test, when one was asked for.
	Restore *RestoreResult `json:"restore_test,omitempty"`
}

// Human renders the result for people.
func (r *CheckResult) Human() string {
	var b strings.Builder
	if len(r.Problems) == 0 {
		fmt.Fprintf(&b, "backup %s: all %d files match the manifest (%s); manifest checksum ok; signature %s\n", r.ID, r.Files, HumanBytes(r.Bytes), r.Signature)
	} else {
		fmt.Fprintf(&b, "backup %s is damaged: %d of %d files do not match the manifest:\n", r.ID, len(r.Problems), r.Files)
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "  %s\n", p)
		}
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", w)
	}
	if r.Restore != nil {
		b.WriteString(r.Restore.Human())
	}
	return b.String()
}

// CheckOptions tune Check.
type CheckOptions struct {
	// Jobs is the number of files read at once; default: the CPU count.
	Jobs int
	// AllowUnsigned accepts, with a warning, an unsigned backup while a
	// key is configured (a backup taken before the key was).
	AllowUnsigned bool
}

// Check reads every file of backup id and compares it with the manifest,
// checks the manifest's own checksum and, with a key configured, its
// signature. The result is recorded for `backup list`.
func Check(ctx context.Context, p *manifest.Project, id string, o CheckOptions) (*CheckResult, error) {
	key, err := LoadKey(p)
	if err != nil {
		return nil, err
	}
	r, err := openRepository(p)
	if err != nil {
		return nil, err
	}
	if r.remote() {
		if err := archive.CheckID(id); err != nil {
			return nil, err
		}
		// A prune on this machine leaves it alone while it is read.
		unlock, err := lockBackup(r.spool, id, false, true)
		if err != nil {
			return nil, err
		}
		defer unlock()
		res, err := r.checkRemote(ctx, id, o.Jobs, key, o.AllowUnsigned)
		if err != nil {
			return nil, err
		}
		r.recordCheck(ctx, res)
		return res, nil
	}
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
	_, res, err := checkDir(ctx, dir, o.Jobs, nil, key, o.AllowUnsigned)
	if err != nil {
		return nil, err
	}
	recordCheck(root, res)
	return res, nil
}

// checkDir reads dir's manifest, checks its checksum and signature, then
// its files. A manifest that cannot be read (or fails its checksum) is an
// error.
func checkDir(ctx context.Context, dir string, jobs int, done func(int64), key *archive.Key, allowUnsigned bool) (*archive.Manifest, *CheckResult, error) {
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	m, err := archive.Read(dir)
	if err != nil {
		return nil, nil, err
	}
	res := newCheckResult(m, dir, key, allowUnsigned)
	problems, err := archive.Check(ctx, dir, m, jobs, done)
	if err != nil {
		return nil, nil, err
	}
	res.addProblems(problems)
	return m, res, nil
}

// newCheckResult starts the check of backup m at path with what its
// manifest alone tells: its signature, and whether it lists the files
// every backup has.
func newCheckResult(m *archive.Manifest, path string, key *archive.Key, allowUnsigned bool) *CheckResult {
	res := &CheckResult{ID: m.ID, Path: path, Files: len(m.Files), Bytes: m.Totals.Bytes, Warnings: []string{}, Problems: []archive.Problem{}}
	var sigProblem, sigWarning string
	res.Signature, sigProblem, sigWarning = judgeSignature(m, key, allowUnsigned)
	if sigWarning != "" {
		res.Warnings = append(res.Warnings, sigWarning)
	}
	if sigProblem != "" {
		res.Problems = append(res.Problems, archive.Problem{Path: archive.ManifestFile, Problem: sigProblem})
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
	res.OK = len(res.Problems) == 0
	return res
}

// problemList joins the problems found into one line.
func (r *CheckResult) problemList() string {
	var parts []string
	for _, p := range r.Problems {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, "; ")
}

// addProblems adds the problems the files' check found.
func (r *CheckResult) addProblems(ps []archive.Problem) {
	r.Problems = append(r.Problems, ps...)
	r.OK = len(r.Problems) == 0
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

// judgeSignature checks m's signature against key (nil: none configured)
// and says what restore, verify and a one-service restore make of it: a
// problem refuses the backup, a warning is printed. An unsigned backup is
// refused while a key is configured, unless allowUnsigned.
func judgeSignature(m *archive.Manifest, key *archive.Key, allowUnsigned bool) (sig archive.Signature, problem, warning string) {
	sig = m.CheckSignature(key)
	switch sig {
	case archive.SignatureBad:
		problem = "its signature does not match the configured key (" + key.Source + "): the manifest was changed after the backup was signed; refusing it"
	case archive.SignatureOtherKey:
		problem = fmt.Sprintf("it was signed with another key (id %s) than the configured one (id %s, %s): its signature cannot be checked; configure that key", m.Seal.KeyID, key.ID, key.Source)
	case archive.Unsigned:
		what := "unsigned backup: its checksums find damage, not a forgery (whoever edits a file can update the manifest too)"
		if m.Seal == nil {
			what = fmt.Sprintf("manifest format %d, written before manifests were sealed: neither its own checksum nor a signature can be checked", m.Format)
		}
		if key != nil && !allowUnsigned {
			problem = what + "; a key is configured (" + key.Source + "), so an unsigned backup is refused: --allow-unsigned accepts it"
		} else {
			warning = what
		}
	case archive.SignatureNotChecked:
		warning = fmt.Sprintf("signed with key %s, but no key is configured (%s or backup_key_file): the signature was not checked", m.Seal.KeyID, KeyEnv)
	}
	return sig, problem, warning
}
