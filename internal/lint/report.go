package lint

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/splitschema/splitschema/internal/manifest"
)

// Severity grades a finding. Errors fail the lint; warnings and notices
// do not.
type Severity string

// The severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Notice  Severity = "notice"
)

// The checks, as named in findings.
const (
	CheckParse          = "parse"           // goose would refuse the file
	CheckRole           = "role"            // the migration changes its role
	CheckTransaction    = "transaction"     // CONCURRENTLY inside a transaction
	CheckUndeclaredLink = "undeclared-link" // a REFERENCES no link declares
	CheckBreaks         = "breaks-dependant"
	CheckFKAction       = "fk-action" // a cross-service foreign key that cascades
	CheckLockSafety     = "lock-safety"
	CheckApply          = "apply"      // a migration failed on the scratch database
	CheckRoundTrip      = "round-trip" // down to 0 or up again failed
	CheckAudit          = "audit"      // isolation audit after apply
	CheckSqlc           = "sqlc"       // gen/ is stale, or sqlc failed
	CheckScratch        = "scratch"    // the scratch database itself
)

// Finding is one thing lint found.
type Finding struct {
	Severity Severity `json:"severity"`
	Check    string   `json:"check"`
	Service  string   `json:"service,omitempty"`
	// File is relative to the project folder, with slashes.
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Report is the outcome of a lint run.
type Report struct {
	// OK is true when there is no error (warnings allowed).
	OK       bool      `json:"ok"`
	Errors   int       `json:"errors"`
	Warnings int       `json:"warnings"`
	Findings []Finding `json:"findings"`
	// Checked lists what ran, for the reader of a clean report.
	Checked []string `json:"checked"`

	// dir is the project folder as given, for file paths in annotations.
	dir string
	// staticSpans are the statements the static checks found errors in: a
	// migration failing in one of them on the scratch database is the same
	// mistake; failing elsewhere in the file, another one.
	staticSpans []span
}

// span is the lines of one statement of a migration file.
type span struct {
	file        string
	first, last int
}

// staticError reports whether the static checks found an error in the
// statement of file that holds line.
func (r *Report) staticError(file string, line int) bool {
	for _, s := range r.staticSpans {
		if s.file == file && line >= s.first && line <= s.last {
			return true
		}
	}
	return false
}

func (r *Report) add(f Finding) {
	for _, o := range r.Findings {
		if o.Check == f.Check && o.File == f.File && o.Line == f.Line && o.Message == f.Message {
			return
		}
	}
	r.Findings = append(r.Findings, f)
}

// finish sorts the findings and counts them.
func (r *Report) finish() {
	rank := map[Severity]int{Error: 0, Warning: 1, Notice: 2}
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(noFile(a), noFile(b)), cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(rank[a.Severity], rank[b.Severity]))
	})
	r.Errors, r.Warnings = 0, 0
	for _, f := range r.Findings {
		switch f.Severity {
		case Error:
			r.Errors++
		case Warning:
			r.Warnings++
		}
	}
	r.OK = r.Errors == 0
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
}

// noFile sorts findings without a file last.
func noFile(f Finding) int {
	if f.File == "" {
		return 1
	}
	return 0
}

// path is the finding's file as seen from the working folder.
func (r *Report) path(f Finding) string {
	if f.File == "" {
		return ""
	}
	if r.dir == "" {
		return f.File
	}
	return filepath.ToSlash(filepath.Join(r.dir, filepath.FromSlash(f.File)))
}

// Human renders the report for a terminal, one finding a paragraph.
func (r *Report) Human() string {
	var b strings.Builder
	for _, f := range r.Findings {
		loc := r.path(f)
		if loc != "" && f.Line > 0 {
			loc = fmt.Sprintf("%s:%d", loc, f.Line)
		}
		if loc == "" && f.Service != "" {
			loc = "service " + f.Service
		}
		if loc != "" {
			loc += ": "
		}
		fmt.Fprintf(&b, "%s%s [%s]: %s\n", loc, f.Severity, f.Check, indent(f.Message))
		if f.Hint != "" {
			fmt.Fprintf(&b, "    hint: %s\n", indent(f.Hint))
		}
	}
	if r.OK {
		fmt.Fprintf(&b, "lint passed: %s", plural(r.Warnings, "warning"))
	} else {
		fmt.Fprintf(&b, "lint failed: %s, %s", plural(r.Errors, "error"), plural(r.Warnings, "warning"))
	}
	if len(r.Checked) > 0 {
		fmt.Fprintf(&b, " (checked: %s)", strings.Join(r.Checked, "; "))
	}
	b.WriteString("\n")
	return b.String()
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// GitHub renders the findings as GitHub Actions workflow commands
// (::error file=...,line=...::message), which show as annotations on the
// pull request, followed by the human summary line.
func (r *Report) GitHub() string {
	var b strings.Builder
	for _, f := range r.Findings {
		var props []string
		if p := r.path(f); p != "" {
			props = append(props, "file="+escapeProperty(p))
			if f.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", f.Line))
			}
		}
		props = append(props, "title="+escapeProperty("splitschema "+f.Check))
		msg := f.Message
		if f.Service != "" && f.File == "" {
			msg = "service " + f.Service + ": " + msg
		}
		if f.Hint != "" {
			msg += "\nhint: " + f.Hint
		}
		fmt.Fprintf(&b, "::%s %s::%s\n", f.Severity, strings.Join(props, ","), escapeData(msg))
	}
	if r.OK {
		fmt.Fprintf(&b, "lint passed: %s\n", plural(r.Warnings, "warning"))
	} else {
		fmt.Fprintf(&b, "lint failed: %s, %s\n", plural(r.Errors, "error"), plural(r.Warnings, "warning"))
	}
	return b.String()
}

// GitHubManifest renders the problems of a project that failed to load as
// GitHub Actions annotations; dir is the project folder as given.
func GitHubManifest(dir string, merr *manifest.Error) string {
	var b strings.Builder
	for _, pr := range merr.Problems {
		loc := "file=" + escapeProperty(filepath.ToSlash(filepath.Join(dir, pr.File)))
		if pr.Line > 0 {
			loc += fmt.Sprintf(",line=%d", pr.Line)
		}
		fmt.Fprintf(&b, "::error %s,title=splitschema manifest::%s\n", loc, escapeData(pr.Msg))
	}
	return b.String()
}

// GitHubFailure renders an error that kept the lint from running as a
// GitHub Actions annotation.
func GitHubFailure(err error) string {
	return "::error title=splitschema lint::" + escapeData(err.Error()) + "\n"
}

// escapeData and escapeProperty follow the workflow command format.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
