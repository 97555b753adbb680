package pitr

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Type is a pgBackRest backup type.
type Type string

// The backup types: a full copy, the changes since the last full, the
// changes since the last backup of any type.
const (
	Full Type = "full"
	Diff Type = "diff"
	Incr Type = "incr"
)

// ParseType checks a --type value.
func ParseType(s string) (Type, error) {
	switch t := Type(s); t {
	case Full, Diff, Incr:
		return t, nil
	}
	return "", fmt.Errorf("backup type %q: want full, diff or incr", s)
}

// Backup is one physical backup in the repository, as pgBackRest's
// `info --output=json` describes it.
type Backup struct {
	Label   string    `json:"label"`
	Type    Type      `json:"type"`
	Started time.Time `json:"started"`
	Stopped time.Time `json:"stopped"`
	// StartLSN and StopLSN bound the WAL the backup needs to be consistent.
	StartLSN string `json:"start_lsn"`
	StopLSN  string `json:"stop_lsn"`
	// Prior is the backup a diff or incr one is based on.
	Prior string `json:"prior,omitempty"`
	// Size is the database's size; RepoSize what the repository stores
	// for this backup (compressed, only what changed).
	Size     int64 `json:"size"`
	RepoSize int64 `json:"repo_size"`
	// Error is set when pgBackRest found page checksum errors.
	Error bool `json:"error"`
}

// Info is what the repository holds for the stanza.
type Info struct {
	Status string `json:"status"`
	// Backups, oldest first.
	Backups []Backup `json:"backups"`
	// WALMin and WALMax are the oldest and newest archived WAL segment.
	WALMin string `json:"wal_min,omitempty"`
	WALMax string `json:"wal_max,omitempty"`
}

type infoDoc struct {
	Name    string `json:"name"`
	Archive []struct {
		Min string `json:"min"`
		Max string `json:"max"`
	} `json:"archive"`
	Backup []struct {
		Label string `json:"label"`
		Type  string `json:"type"`
		Prior *string
		Error *bool `json:"error"`
		Info  struct {
			Size       int64 `json:"size"`
			Repository struct {
				Delta int64 `json:"delta"`
			} `json:"repository"`
		} `json:"info"`
		LSN struct {
			Start string `json:"start"`
			Stop  string `json:"stop"`
		} `json:"lsn"`
		Timestamp struct {
			Start int64 `json:"start"`
			Stop  int64 `json:"stop"`
		} `json:"timestamp"`
	} `json:"backup"`
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
}

// parseInfo reads `pgbackrest info --output=json` for the stanza.
func parseInfo(data []byte) (*Info, error) {
	var docs []infoDoc
	if err := json.Unmarshal(data, &docs); err != nil {
		return nil, fmt.Errorf("read pgbackrest info: %w", err)
	}
	for _, d := range docs {
		if d.Name != Stanza {
			continue
		}
		info := &Info{Status: d.Status.Message, Backups: []Backup{}}
		for _, a := range d.Archive {
			if info.WALMin == "" || (a.Min != "" && a.Min < info.WALMin) {
				info.WALMin = a.Min
			}
			if a.Max > info.WALMax {
				info.WALMax = a.Max
			}
		}
		for _, b := range d.Backup {
			bk := Backup{
				Label: b.Label, Type: Type(b.Type),
				Started:  time.Unix(b.Timestamp.Start, 0).UTC(),
				Stopped:  time.Unix(b.Timestamp.Stop, 0).UTC(),
				StartLSN: b.LSN.Start, StopLSN: b.LSN.Stop,
				Size: b.Info.Size, RepoSize: b.Info.Repository.Delta,
			}
			if b.Prior != nil {
				bk.Prior = *b.Prior
			}
			if b.Error != nil {
				bk.Error = *b.Error
			}
			info.Backups = append(info.Backups, bk)
		}
		slices.SortFunc(info.Backups, func(a, b Backup) int { return strings.Compare(a.Label, b.Label) })
		return info, nil
	}
	return nil, fmt.Errorf("read pgbackrest info: no stanza %s in the repository", Stanza)
}

// Info reads what the repository holds.
func (s *Setup) Info(ctx context.Context) (*Info, error) {
	if err := s.prepare(); err != nil {
		return nil, err
	}
	out, err := s.run(ctx, "--output=json", "info")
	if err != nil {
		return nil, err
	}
	return parseInfo(out)
}

// Backup takes a physical backup of type t and returns it as the
// repository lists it.
func (s *Setup) Backup(ctx context.Context, t Type) (*Backup, error) {
	if err := s.prepare(); err != nil {
		return nil, err
	}
	before, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.run(ctx, "--type="+string(t), "backup"); err != nil {
		return nil, err
	}
	after, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, b := range before.Backups {
		known[b.Label] = true
	}
	for i := len(after.Backups) - 1; i >= 0; i-- {
		if !known[after.Backups[i].Label] {
			b := after.Backups[i]
			return &b, nil
		}
	}
	return nil, fmt.Errorf("pgbackrest backup succeeded but the repository lists no new backup")
}
