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
	// orphan state, and the one-service restore was applied, with the
	// backup's row counts and zero broken links and orphan state after it.
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
	// OneService is the one-service restore in place, the third column.
	OneService *OneServiceInfo `json:"one_service"`
	Seconds    float64         `json:"seconds"`
}

// Row compares one link or rule across the three restores.
type Row struct {
	Name        string `json:"name"`
	Independent int64  `json:"independent_backups"`
	Snapshot    int64  `json:"one_snapshot"`
	// OneService counts it after one service was restored in place from
	// the snapshot while the others kept writing.
	OneService int64 `json:"one_service_in_place"`
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

// Broken sums the broken links of each column.
func (r *Result) Broken() (independent, snapshot, oneService int64) { return sum(r.Links) }

// Orphaned sums the orphan state of each column.
func (r *Result) Orphaned() (independent, snapshot, oneService int64) { return sum(r.Orphans) }

func sum(rows []Row) (a, b, c int64) {
	for _, r := range rows {
		a += r.Independent
		b += r.Snapshot
		c += r.OneService
	}
	return a, b, c
}

func (r *Result) tabulate(fks []archive.ForeignKey, independent, snapshot, oneService Damage) {
	for _, fk := range fks {
		n := LinkName(fk)
		r.Links = append(r.Links, Row{Name: n, Independent: independent.Broken[n], Snapshot: snapshot.Broken[n], OneService: oneService.Broken[n]})
	}
	for _, rule := range orphanRules {
		r.Orphans = append(r.Orphans, Row{Name: rule.Name, Independent: independent.Orphans[rule.Name], Snapshot: snapshot.Orphans[rule.Name], OneService: oneService.Orphans[rule.Name]})
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

	third := "one snapshot, then one service in place"
	if r.OneService != nil {
		third = "one snapshot, then " + r.OneService.Service + " in place"
	}
	rows := [][]string{{"link", "independent backups", "one snapshot", third}}
	for _, l := range r.Links {
		rows = append(rows, []string{l.Name, fmt.Sprint(l.Independent), fmt.Sprint(l.Snapshot), fmt.Sprint(l.OneService)})
	}
	for _, o := range r.Orphans {
		rows = append(rows, []string{"orphan state: " + o.Name, fmt.Sprint(o.Independent), fmt.Sprint(o.Snapshot), fmt.Sprint(o.OneService)})
	}
	bi, bs, b1 := r.Broken()
	oi, os, o1 := r.Orphaned()
	rows = append(rows, []string{"total broken links", fmt.Sprint(bi), fmt.Sprint(bs), fmt.Sprint(b1)},
		[]string{"total orphan state", fmt.Sprint(oi), fmt.Sprint(os), fmt.Sprint(o1)})
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
	if o := r.OneService; o != nil {
		fmt.Fprintf(&b, "\nA bad deploy wiped %s (%d rows); %s was restored alone from the snapshot, in place, while the others wrote:\n",
			o.Service, o.Wiped, o.Service)
		for _, line := range strings.Split(strings.TrimRight(o.Restore.Human(), "\n"), "\n") {
			fmt.Fprintf(&b, "  %s\n", line)
		}
		if o.Others != nil {
			var parts []string
			for _, s := range o.Others.Services {
				parts = append(parts, fmt.Sprintf("%s %d committed, %d failed", s.Service, s.Committed, s.Failed))
			}
			fmt.Fprintf(&b, "  the other services' writers meanwhile: %s\n", strings.Join(parts, "; "))
		}
		if len(o.Mismatches) == 0 {
			fmt.Fprintf(&b, "  every restored table of %s has the backup's row count\n", o.Service)
		} else {
			fmt.Fprintf(&b, "  ROW COUNTS DIFFER from the backup's: %s\n", strings.Join(o.Mismatches, "; "))
		}
	}
	b.WriteString("\n")
	oneOK := r.OneService != nil && r.OneService.Restore.Applied && len(r.OneService.Mismatches) == 0 && b1+o1 == 0
	switch {
	case !r.OK && !oneOK && r.OneService != nil && (r.Verify == nil || r.Verify.OK) && bs+os == 0:
		fmt.Fprintf(&b, "FAILED: the restore of %s alone did not leave it whole (see above).\n", r.OneService.Service)
	case !r.OK:
		b.WriteString("FAILED: the snapshot restore is not whole (see above).\n")
	case bi+oi == 0:
		b.WriteString("OK: the snapshot restore is whole. The independent backups happened to agree this time;\n" +
			"run longer, faster or with a wider --interval to see them drift apart.\n")
	default:
		fmt.Fprintf(&b, "OK: one snapshot restored whole; independent backups broke %d link%s and left %d orphan%s.\n", bi, plural(bi), oi, plural(oi))
	}
	if r.OK && oneOK {
		var committed int64
		if r.OneService.Others != nil {
			for _, s := range r.OneService.Others.Services {
				committed += s.Committed
			}
		}
		fmt.Fprintf(&b, "OK: %s restored alone from the snapshot, in place, in %.1fs (its tables locked %.2fs), with no broken link; the others committed %d transactions meanwhile.\n",
			r.OneService.Service, r.OneService.Restore.Seconds, r.OneService.Restore.LockedSeconds, committed)
	}
	fmt.Fprintf(&b, "Both restores are left for you to inspect: databases %s and %s on %s (%.0fs in all).\n",
		r.Database, r.IndependentDatabase, r.Server, r.Seconds)
	return b.String()
}

// writeTable writes rows as a markdown table, the first row its header.
// The first column is left-aligned, the others are numbers.
func writeTable(b *strings.Builder, rows [][]string) {
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	line := func(row []string) {
		fmt.Fprintf(b, "| %-*s |", width[0], row[0])
		for i := 1; i < len(row); i++ {
			fmt.Fprintf(b, " %*s |", width[i], row[i])
		}
		b.WriteString("\n")
	}
	line(rows[0])
	fmt.Fprintf(b, "|%s|", strings.Repeat("-", width[0]+2))
	for _, w := range width[1:] {
		fmt.Fprintf(b, "%s:|", strings.Repeat("-", w+1))
	}
	b.WriteString("\n")
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
