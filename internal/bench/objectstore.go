package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"filippo.io/age"

	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/s3test"
)

// objectStoreDatabase is the database the object store scenario restores
// into.
const objectStoreDatabase = "bench_store_restore"

// benchObjectStore measures, Runs times, a backup to an S3-compatible
// object store (a SeaweedFS server on loopback ports, started for it), in
// clear and age-encrypted, against the same backup to the local folder,
// and the restore + verify of each against the restore from the folder.
// Same data, same run; the order rotates, and each backup is deleted once
// restored.
func benchObjectStore(ctx context.Context, e *env, s *shop) ([]*row, error) {
	e.progress("object store: starting SeaweedFS")
	srv, err := s3test.Start()
	if err != nil {
		return nil, fmt.Errorf("start the object store (make seaweedfs builds its server): %w", err)
	}
	defer srv.Close()
	if err := srv.MakeBucket(ctx, "bench"); err != nil {
		return nil, err
	}
	os.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	if err := e.claim(ctx, objectStoreDatabase, nil); err != nil {
		return nil, err
	}
	plain, err := storeProject(e, s.p, srv, "plain", false)
	if err != nil {
		return nil, err
	}
	encrypted, err := storeProject(e, s.p, srv, "encrypted", true)
	if err != nil {
		return nil, err
	}
	ways := []struct {
		name string
		p    *manifest.Project
	}{{"local folder", s.p}, {"object store", plain}, {"object store, encrypted", encrypted}}
	backupSecs := make([][]float64, len(ways))
	restoreSecs := make([][]float64, len(ways))
	for run := range e.cfg.Runs {
		var steps []func() error
		for i, w := range ways {
			steps = append(steps, func() error {
				b, secs, err := timedBackup(ctx, e, s, w.p)
				if err != nil {
					return fmt.Errorf("backup to the %s: %w", w.name, err)
				}
				backupSecs[i] = append(backupSecs[i], secs)
				e.progress("object store run %d/%d: backup to the %s %.2f s", run+1, e.cfg.Runs, w.name, secs)
				r, err := timedRestore(ctx, e, s, w.p, b.ID)
				if err != nil {
					return fmt.Errorf("restore from the %s: %w", w.name, err)
				}
				restoreSecs[i] = append(restoreSecs[i], r)
				e.progress("object store run %d/%d: restore + verify from the %s %.2f s", run+1, e.cfg.Runs, w.name, r)
				_, err = backup.Prune(ctx, w.p, backup.PruneOptions{Keep: 1})
				return err
			})
		}
		if err := e.rotate(ctx, run, steps...); err != nil {
			return nil, err
		}
	}
	rows := []*row{
		{what: "backup to an S3-compatible store (SeaweedFS, loopback) vs to the local folder", unit: unitSeconds},
		{what: "backup to the store, age-encrypted, vs to the local folder", unit: unitSeconds},
		{what: "restore + verify from the store vs from the local folder", unit: unitSeconds},
		{what: "restore + verify from the store, age-encrypted, vs from the local folder", unit: unitSeconds},
	}
	for k := range backupSecs[0] {
		rows[0].add(backupSecs[1][k], backupSecs[0][k])
		rows[1].add(backupSecs[2][k], backupSecs[0][k])
		rows[2].add(restoreSecs[1][k], restoreSecs[0][k])
		rows[3].add(restoreSecs[2][k], restoreSecs[0][k])
	}
	return rows, nil
}

// storeProject is a copy of p whose backups go to the bench bucket of srv,
// under prefix, encrypted to a new identity when encrypt is set.
func storeProject(e *env, p *manifest.Project, srv *s3test.ServerInfo, prefix string, encrypt bool) (*manifest.Project, error) {
	cp := *p
	cp.Settings.Backups = "s3://bench/" + prefix
	cp.Settings.S3 = manifest.S3Settings{Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true, AllowHTTP: true,
		Spool: filepath.Join(e.work, "spool")}
	if encrypt {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, err
		}
		file := filepath.Join(e.work, "bench.agekey")
		if err := os.WriteFile(file, []byte(id.String()+"\n"), 0o600); err != nil {
			return nil, err
		}
		cp.Settings.Encryption = manifest.EncryptionSettings{Recipients: []string{id.Recipient().String()}, IdentityFile: file}
	}
	return &cp, nil
}

// timedBackup times a splitschema backup of the shop as project p has it
// (its repository), with the benchmark's options.
func timedBackup(ctx context.Context, e *env, s *shop, p *manifest.Project) (res *backup.Result, secs float64, err error) {
	secs, err = timed(func() (err error) {
		res, err = backup.Run(ctx, p, s.srv, e.backupOptions())
		return err
	})
	return res, secs, err
}

// timedRestore times the restore + verify of backup id of project p into
// objectStoreDatabase, and drops it.
func timedRestore(ctx context.Context, e *env, s *shop, p *manifest.Project, id string) (float64, error) {
	secs, err := timed(func() error { return e.restoreWhole(ctx, p, s.srv, id, objectStoreDatabase, nil) })
	if err != nil {
		return 0, err
	}
	return secs, e.dropDatabase(ctx, objectStoreDatabase)
}
