package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/manifest"
)

// State says whether a backup folder holds a complete backup.
type State string

// The states of a backup folder.
const (
	// Complete: renamed into place with a readable manifest.
	Complete State = "complete"
	// Incomplete: a .partial folder no process is writing: the backup
	// failed or was killed. It cannot be restored.
	Incomplete State = "incomplete"
	// InProgress: a .partial folder a live backup is writing.
	InProgress State = "in progress"
	// Damaged: a folder named like a complete backup whose manifest is
	// missing or unreadable.
	Damaged State = "damaged"
)

// Entry is one backup folder.
type Entry struct {
	ID    string `json:"id"`
	State State  `json:"state"`
	// Complete is State == Complete, for scripts.
	Complete bool      `json:"complete"`
	Path     string    `json:"path"`
	Started  time.Time `json:"started"`
	Database string    `json:"database,omitempty"`
	Tables   int       `json:"tables"`
	Rows     int64     `json:"rows"`
	Bytes    int64     `json:"bytes"`
	// Reason says why a backup is not complete.
	Reason string `json:"reason,omitempty"`
}

// Listing is the content of a project's backup folder, newest first.
type Listing struct {
	Dir     string  `json:"dir"`
	Backups []Entry `json:"backups"`
}

// Human renders the listing as a table.
func (l *Listing) Human() string {
	var b strings.Builder
	if len(l.Backups) == 0 {
		fmt.Fprintf(&b, "no backups in %s\n", l.Dir)
		return b.String()
	}
	fmt.Fprintf(&b, "%-22s %-11s %-20s %7s %12s %10s\n", "ID", "STATE", "STARTED (UTC)", "TABLES", "ROWS", "SIZE")
	for _, e := range l.Backups {
		started := e.Started.UTC().Format("2006-01-02 15:04:05")
		if e.State == Complete {
			fmt.Fprintf(&b, "%-22s %-11s %-20s %7d %12d %10s\n", e.ID, e.State, started, e.Tables, e.Rows, HumanBytes(e.Bytes))
		} else {
			fmt.Fprintf(&b, "%-22s %-11s %-20s  %s\n", e.ID, strings.ToUpper(string(e.State)), started, e.Reason)
		}
	}
	return b.String()
}

// Complete returns the complete backups, newest first.
func (l *Listing) Complete() []Entry {
	var out []Entry
	for _, e := range l.Backups {
		if e.State == Complete {
			out = append(out, e)
		}
	}
	return out
}

// List reads the project's backup folder. A missing folder holds no backups.
func List(p *manifest.Project) (*Listing, error) {
	return listDir(Dir(p))
}

func listDir(root string) (*Listing, error) {
	l := &Listing{Dir: root, Backups: []Entry{}}
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	for _, de := range entries {
		if !de.IsDir() {
			continue
		}
		name := de.Name()
		id, partial := strings.CutSuffix(name, archive.PartialSuffix)
		if !archive.ValidID(id) {
			continue
		}
		e := Entry{ID: id, Path: filepath.Join(root, name)}
		e.Started, _ = archive.IDTime(id)
		switch {
		case partial:
			e.State = Incomplete
			if busy(root, id) {
				e.State, e.Reason = InProgress, "being written"
			} else {
				e.Reason = failureReason(e.Path)
			}
		default:
			m, err := archive.Read(e.Path)
			switch {
			case err != nil:
				e.State, e.Reason = Damaged, err.Error()
			case m.ID != id:
				e.State, e.Reason = Damaged, fmt.Sprintf("its manifest is that of backup %s", m.ID)
			default:
				e.State = Complete
				e.Started, e.Database = m.Started, m.Database.Name
				e.Tables, e.Rows, e.Bytes = m.Totals.Tables, m.Totals.Rows, m.Totals.Bytes
			}
		}
		e.Complete = e.State == Complete
		l.Backups = append(l.Backups, e)
	}
	slices.SortFunc(l.Backups, func(a, b Entry) int { return strings.Compare(b.ID, a.ID) })
	return l, nil
}

// busy tells whether a live process holds backup id's lock exclusively or
// shared.
func busy(root, id string) bool {
	if _, err := os.Stat(lockPath(root, id)); err != nil {
		return false
	}
	unlock, err := lockBackup(root, id, true, false)
	if err != nil {
		return errors.Is(err, errBusy)
	}
	unlock()
	return false
}

// failureReason reads the note a failed backup left, or says it has none.
func failureReason(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, archive.FailureFile))
	if err != nil {
		return "interrupted before it completed (no manifest)"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	return line
}

// find returns the folder of complete backup id, or an error that says
// why there is none.
func find(root, id string) (string, error) {
	if err := archive.CheckID(id); err != nil {
		return "", err
	}
	dir := filepath.Join(root, id)
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir, nil
	}
	partial := dir + archive.PartialSuffix
	if _, err := os.Stat(partial); err == nil {
		if busy(root, id) {
			return "", fmt.Errorf("backup %s is still being written (%s)", id, partial)
		}
		return "", fmt.Errorf("backup %s is incomplete and cannot be used: %s (%s)", id, failureReason(partial), partial)
	}
	return "", fmt.Errorf("no backup %s in %s (`splitschema backup list` shows the backups)", id, root)
}

// ReadManifest returns the manifest of complete backup id of project p.
func ReadManifest(p *manifest.Project, id string) (*archive.Manifest, error) {
	dir, err := find(Dir(p), id)
	if err != nil {
		return nil, err
	}
	return archive.Read(dir)
}
