package demo

import (
	"fmt"
	"strings"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/verify"
	"github.com/splitschema/splitschema/internal/workload"
)

// Result is what a demo run measured.
type Result struct {
	// OK: the snapshot restore verified, with zero broken links and zero
	// orphan state.
	OK                  bool   `json:"ok"`
	Server              string `json:"server"`
	Database            string `json:"database"`
	IndependentDatabase string `json:"independent_database"`
	// Links has a row per cross-service foreign key, Orphans per rule.
	Links   []Row `json:"links"`
	Orphans []Row `json:"orphans"`
	// FailedConstraints counts the foreign keys that could not be
	// recreated when the per-service backups were restored.
	FailedConstraints int               `json:"failed_constraints"`
	Verify            *verify.Result    `json:"verify"`
	Backup            BackupInfo        `json:"backup"`
	Independent       []IndependentInfo `json:"independent_backups"`
	Workload          *workload.Result  `json:"workload"`
	Seconds           float64           `json:"seconds"`
}

// Row compares one link or rule across the two restores.
type Row struct {
	Name        string `json:"name"`
	Independent int64  `json:"independent_backups"`
	Snapshot    int64  `json:"one_snapshot"`
}

// BackupInfo describes the splitschema backup; Started is seconds after
// the backups began.
type BackupInfo struct {
	ID      string  `json:"id"`
	Path    string  `json:"path"`
	Tables  int     `json:"tables"`
	Rows    int64   `json:"rows"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	Started float64 `json:"started"`
}

// IndependentInfo is one service's own backup; Started is seconds after
// the backups began.
type IndependentInfo struct {
	Service string  `json:"service"`
	Started float64 `json:"started"`
}

// Broken sums the broken links of each side.
func (r *Result) Broken() (independent, snapshot int64) { return sum(r.Links) }

// Orphaned sums the orphan state of each side.
func (r *Result) Orphaned() (independent, snapshot int64) { return sum(r.Orphans) }

func sum(rows []Row) (a, b int64) {
	for _, r := range rows {
		a += r.Independent
		b += r.Snapshot
	}
	return a, b
}

func (r *Result) tabulate(fks []archive.ForeignKey, independent, snapshot Damage) {
	for _, fk := range fks {
		n := LinkName(fk)
		r.Links = append(r.Links, Row{Name: n, Independent: independent.Broken[n], Snapshot: snapshot.Broken[n]})
	}
	for _, rule := range orphanRules {
		r.Orphans = append(r.Orphans, Row{Name: rule.Name, Independent: independent.Orphans[rule.Name], Snapshot: snapshot.Orphans[rule.Name]})
	}
}

// Human renders the comparison table and the verdict.
func (r *Result) Human() string {
	var b strings.Builder
	b.WriteString("The shop's writers, each service through its own role:\n")
	for _, s := range r.Workload.Services {
		fmt.Fprintf(&b, "  %-10s %7d transactions, %6.1f/s\n", s.Service, s.Committed, s.TPS)
	}
	b.WriteString("\nBackups, seconds after the first started:\n")
	fmt.Fprintf(&b, "  one snapshot   %s at %.1fs (%d tables, %d rows, took %.1fs)\n", r.Backup.ID, r.Backup.Started, r.Backup.Tables, r.Backup.Rows, r.Backup.Seconds)
	var times []string
	for _, d := range r.Independent {
		times = append(times, fmt.Sprintf("%s at %.1fs", d.Service, d.Started))
	}
	fmt.Fprintf(&b, "  independent    %s\n\n", strings.Join(times, ", "))

	rows := [][3]string{{"link", "independent backups", "one snapshot"}}
	for _, l := range r.Links {
		rows = append(rows, [3]string{l.Name, fmt.Sprint(l.Independent), fmt.Sprint(l.Snapshot)})
	}
	for _, o := range r.Orphans {
		rows = append(rows, [3]string{"orphan state: " + o.Name, fmt.Sprint(o.Independent), fmt.Sprint(o.Snapshot)})
	}
	bi, bs := r.Broken()
	oi, os := r.Orphaned()
	rows = append(rows, [3]string{"total broken links", fmt.Sprint(bi), fmt.Sprint(bs)},
		[3]string{"total orphan state", fmt.Sprint(oi), fmt.Sprint(os)})
	writeTable(&b, rows)

	if r.FailedConstraints > 0 {
		fmt.Fprintf(&b, "\nThe per-service restore could not recreate %d foreign key%s: the data of its backups contradict each other.\n",
			r.FailedConstraints, plural(r.FailedConstraints))
	}
	if r.Verify != nil {
		b.WriteString("\nSnapshot restore, verified against the backup's manifest:\n")
		for _, line := range strings.Split(strings.TrimRight(r.Verify.Human(), "\n"), "\n") {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	b.WriteString("\n")
	switch {
	case !r.OK:
		b.WriteString("FAILED: the snapshot restore is not whole (see above).\n")
	case bi+oi == 0:
		b.WriteString("OK: the snapshot restore is whole. The independent backups happened to agree this time;\n" +
			"run longer, faster or with a wider --interval to see them drift apart.\n")
	default:
		fmt.Fprintf(&b, "OK: one snapshot restored whole; independent backups broke %d link%s and left %d orphan%s.\n", bi, plural(bi), oi, plural(oi))
	}
	fmt.Fprintf(&b, "Both restores are left for you to inspect: databases %s and %s on %s (%.0fs in all).\n",
		r.Database, r.IndependentDatabase, r.Server, r.Seconds)
	return b.String()
}

// writeTable writes rows as a markdown table, the first row its header.
func writeTable(b *strings.Builder, rows [][3]string) {
	width := [3]int{}
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	line := func(row [3]string) {
		fmt.Fprintf(b, "| %-*s | %*s | %*s |\n", width[0], row[0], width[1], row[1], width[2], row[2])
	}
	line(rows[0])
	fmt.Fprintf(b, "|%s|%s:|%s:|\n", strings.Repeat("-", width[0]+2), strings.Repeat("-", width[1]+1), strings.Repeat("-", width[2]+1))
	for _, row := range rows[1:] {
		line(row)
	}
}

func plural[N int | int64](n N) string {
	if n == 1 {
		return ""
	}
	return "s"
}
