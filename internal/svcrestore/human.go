package svcrestore

import (
	"fmt"
	"strconv"
	"strings"
)

// Human renders the result for people: a headline, the tables and what
// changes in them, the sequences, the links and what would break, and the
// reasons for a refusal.
func (r *Result) Human() string {
	var b strings.Builder
	what := fmt.Sprintf("restore of %s from backup %s into database %s, in place", serviceWord(r.Services), r.ID, r.Database)
	switch {
	case r.Applied:
		fmt.Fprintf(&b, "%s: done in %.1fs (tables locked %.2fs)\n", what, r.Seconds, r.LockedSeconds)
	case r.DryRun && r.OK:
		fmt.Fprintf(&b, "dry run of the %s: it would be done; nothing was changed\n", what)
	case r.DryRun:
		fmt.Fprintf(&b, "dry run of the %s: it would be REFUSED; nothing was changed\n", what)
	case len(r.Refused) > 0:
		fmt.Fprintf(&b, "%s: REFUSED, nothing was changed\n", what)
	default:
		fmt.Fprintf(&b, "%s: FAILED, nothing was changed: %s\n", what, r.Error)
	}
	if len(r.Tables) > 0 {
		verb := "to "
		if r.Applied {
			verb = ""
		}
		rows := [][]string{{"table", "backup rows", "live rows before", verb + "update", verb + "insert", verb + "delete"}}
		for _, t := range r.Tables {
			rows = append(rows, []string{t.Table, itoa(t.BackupRows), itoa(t.LiveRows), itoa(t.Update), itoa(t.Insert), itoa(t.Delete)})
		}
		b.WriteString(markdownTable(rows, 1))
	}
	kept := 0
	for _, s := range r.Sequences {
		switch {
		case s.Advanced && r.Applied:
			fmt.Fprintf(&b, "sequence %s advanced from %d to the backup's %d\n", s.Sequence, s.Live, s.Backup)
		case s.Advanced:
			fmt.Fprintf(&b, "sequence %s would advance from %d to the backup's %d\n", s.Sequence, s.Live, s.Backup)
		default:
			kept++
		}
	}
	if kept > 0 {
		fmt.Fprintf(&b, "%d sequence(s) keep their live value: the backup's is not ahead, and a sequence never goes back\n", kept)
	}
	if len(r.Links) > 0 {
		rows := [][]string{{"direction", "link", "broken rows", "sample keys"}}
		for _, l := range r.Links {
			link := l.Link
			if !l.Enforced {
				link += " (soft)"
			}
			broken := itoa(l.Broken)
			if l.Broken < 0 {
				broken = "not counted"
			}
			rows = append(rows, []string{string(l.Direction), link, broken, strings.Join(l.Samples, "; ")})
		}
		b.WriteString("links between the restored and the other services, and the rows the restore would break:\n")
		b.WriteString(markdownTable(rows, 2))
	}
	if len(r.Refused) > 0 {
		b.WriteString("refused because:\n")
		for _, why := range r.Refused {
			fmt.Fprintf(&b, "  - %s\n", why)
		}
	}
	return b.String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// markdownTable renders rows (the first the header) as a Markdown table;
// columns from rightFrom on are numbers, right-aligned, except the last
// of a links table.
func markdownTable(rows [][]string, rightFrom int) string {
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	right := func(i int) bool { return i >= rightFrom && !(rightFrom == 2 && i == len(width)-1) }
	var b strings.Builder
	line := func(row []string) {
		b.WriteString("|")
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if right(i) {
				fmt.Fprintf(&b, " %s%s |", pad, c)
			} else {
				fmt.Fprintf(&b, " %s%s |", c, pad)
			}
		}
		b.WriteString("\n")
	}
	line(rows[0])
	b.WriteString("|")
	for i, w := range width {
		if right(i) {
			b.WriteString(strings.Repeat("-", w+1) + ":|")
		} else {
			b.WriteString(strings.Repeat("-", w+2) + "|")
		}
	}
	b.WriteString("\n")
	for _, row := range rows[1:] {
		line(row)
	}
	return b.String()
}
