package backup

import (
	"context"
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
	// Verified: complete, and its last check (backup verify, restore or
	// prune) found every file and the manifest as sealed.
	Verified State = "verified"
	// Complete: renamed into place with a manifest that matches its own
	// checksum, not checked since it was written.
	Complete State = "complete"
	// Incomplete: a .partial folder no process is writing: the backup
	// failed or was killed. It cannot be restored.
	Incomplete State = "incomplete"
	// InProgress: a .partial folder a live backup is writing.
	InProgress State = "in progress"
	// Damaged: a folder named like a complete backup whose manifest is
	// missing, unreadable, fails its checksum or signature, or whose last
	// check found a file changed or missing.
	Damaged State = "damaged"
)

// Restorable tells whether the state is that of a complete backup whose
// damage, if any, no check has found yet.
func (s State) Restorable() bool { return s == Verified || s == Complete }

// Entry is one backup folder.
type Entry struct {
	ID    string `json:"id"`
	State State  `json:"state"`
	// Complete tells that the backup is complete and, as far as checked,
	// whole (State verified or complete), for scripts.
	Complete bool `json:"complete"`
	// LastCheck is the last check of its files (backup verify, restore,
	// prune), or nil when none ran since it was written.
	LastCheck *LastCheck `json:"last_check"`
	Path      string     `json:"path"`
	Started   time.Time  `json:"started"`
	Database  string     `json:"database,omitempty"`
	Tables    int        `json:"tables"`
	Rows      int64      `json:"rows"`
	Bytes     int64      `json:"bytes"`
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
	fmt.Fprintf(&b, "%-22s %-11s %-20s %-20s %7s %12s %10s\n", "ID", "STATE", "STARTED (UTC)", "LAST CHECKED (UTC)", "TABLES", "ROWS", "SIZE")
	for _, e := range l.Backups {
		started := e.Started.UTC().Format("2006-01-02 15:04:05")
		checked := "never"
		if e.LastCheck != nil {
			checked = e.LastCheck.At.UTC().Format("2006-01-02 15:04:05")
		}
		if e.State.Restorable() {
			fmt.Fprintf(&b, "%-22s %-11s %-20s %-20s %7d %12d %10s\n", e.ID, e.State, started, checked, e.Tables, e.Rows, HumanBytes(e.Bytes))
		} else {
			fmt.Fprintf(&b, "%-22s %-11s %-20s %-20s  %s\n", e.ID, strings.ToUpper(string(e.State)), started, checked, e.Reason)
		}
	}
	b.WriteString("verified: every file and the manifest checked at LAST CHECKED; complete: sealed, not checked since (`splitschema backup verify ID` checks it)\n")
	return b.String()
}

// Complete returns the complete backups not known to be damaged, newest
// first.
func (l *Listing) Complete() []Entry {
	var out []Entry
	for _, e := range l.Backups {
		if e.State.Restorable() {
			out = append(out, e)
		}
	}
	return out
}

// List reads the project's backup folder. A missing folder holds no
// backups. It reads each manifest (checking its own checksum and, with a
// key configured, its signature) and the record of each backup's last
// check; it reads no other file: `backup verify` and prune do.
func List(ctx context.Context, p *manifest.Project) (*Listing, error) {
	key, err := LoadKey(p)
	if err != nil {
		return nil, err
	}
	r, err := openRepository(p)
	if err != nil {
		return nil, err
	}
	if r.remote() {
		return r.list(ctx, key)
	}
	return listDir(Dir(p), key)
}

func listDir(root string, key *archive.Key) (*Listing, error) {
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
			e.LastCheck = readCheck(root, id)
			m, err := archive.Read(e.Path)
			judge(&e, m, err, key)
		}
		e.Complete = e.State.Restorable()
		l.Backups = append(l.Backups, e)
	}
	slices.SortFunc(l.Backups, func(a, b Entry) int { return strings.Compare(b.ID, a.ID) })
	return l, nil
}

// judge sets the state of complete backup e from its manifest m (or the
// error reading it gave) and its last check.
func judge(e *Entry, m *archive.Manifest, err error, key *archive.Key) {
	switch {
	case err != nil:
		e.State, e.Reason = Damaged, err.Error()
	case m.ID != e.ID:
		e.State, e.Reason = Damaged, fmt.Sprintf("its manifest is that of backup %s", m.ID)
	default:
		e.Started, e.Database = m.Started, m.Database.Name
		e.Tables, e.Rows, e.Bytes = m.Totals.Tables, m.Totals.Rows, m.Totals.Bytes
		sig := m.CheckSignature(key)
		switch {
		case sig == archive.SignatureBad || sig == archive.SignatureOtherKey:
			e.State, e.Reason = Damaged, fmt.Sprintf("manifest signature %s for the configured key", sig)
		case e.LastCheck != nil && !e.LastCheck.OK:
			e.State, e.Reason = Damaged, "the check at "+e.LastCheck.At.UTC().Format(time.RFC3339)+" found: "+strings.Join(e.LastCheck.Problems, "; ")
		case e.LastCheck != nil:
			e.State = Verified
		default:
			e.State = Complete
		}
	}
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
	return noteLine(data)
}

// noteLine is the first line of a failed backup's note: what failed.
func noteLine(note []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(note)), "\n")
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

// ReadManifest returns the manifest of complete backup id of project p,
// checked against its own checksum and, with a key configured, its
// signature: a manifest whose signature fails, or an unsigned one while a
// key is configured, is refused.
func ReadManifest(ctx context.Context, p *manifest.Project, id string) (*archive.Manifest, error) {
	key, err := LoadKey(p)
	if err != nil {
		return nil, err
	}
	r, err := openRepository(p)
	if err != nil {
		return nil, err
	}
	var m *archive.Manifest
	if r.remote() {
		var sb *storedBackup
		if sb, err = r.find(ctx, id); err == nil {
			m = sb.m
		}
	} else {
		var dir string
		if dir, err = find(Dir(p), id); err == nil {
			m, err = archive.Read(dir)
		}
	}
	if err != nil {
		return nil, err
	}
	switch sig := m.CheckSignature(key); {
	case sig == archive.SignatureBad || sig == archive.SignatureOtherKey:
		return nil, fmt.Errorf("backup %s: its manifest's signature is %s for the configured key (%s): refusing to compare with it", id, sig, key.Source)
	case sig == archive.Unsigned && key != nil:
		return nil, fmt.Errorf("backup %s is unsigned while a key is configured (%s): refusing to compare with it", id, key.Source)
	}
	return m, nil
}
