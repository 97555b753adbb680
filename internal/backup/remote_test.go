package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/backup/backuptest"
	"github.com/splitschema/splitschema/internal/crypt"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/s3test"
)

// remoteShop is a shop whose backups go to a bucket of the test object
// store, encrypted to a fresh age identity when encrypt is set.
type remoteShop struct {
	*backuptest.Shop
	s3       *s3test.ServerInfo
	bucket   string
	identity *age.X25519Identity
	// client reads and writes the bucket behind splitschema's back.
	client *minio.Client
}

// newRemoteShop makes a remoteShop. The store's credentials go into the
// process environment (the same for every test), as a user gives them.
func newRemoteShop(t *testing.T, encrypt bool) *remoteShop {
	t.Helper()
	srv := s3test.Server(t)
	os.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	rs := &remoteShop{Shop: backuptest.New(t), s3: srv, bucket: s3test.NewBucket(t), client: srv.Client(t)}
	st := &rs.Project.Settings
	st.Backups = "s3://" + rs.bucket + "/shop/prod"
	st.S3 = manifest.S3Settings{Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true, AllowHTTP: true, Spool: t.TempDir()}
	if encrypt {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		rs.identity = id
		st.Encryption.Recipients = []string{id.Recipient().String()}
		st.Encryption.IdentityFile = writeIdentity(t, id)
	}
	return rs
}

func writeIdentity(t *testing.T, id *age.X25519Identity) string {
	path := filepath.Join(t.TempDir(), "backup.agekey")
	if err := os.WriteFile(path, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// objects lists the bucket's object names under the prefix of backup id
// ("" for all of them), without the repository's prefix.
func (rs *remoteShop) objects(t *testing.T, id string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	prefix := "shop/prod/" + id
	for o := range rs.client.ListObjects(testCtx(t), rs.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		obj, err := rs.client.GetObject(testCtx(t), rs.bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(o.Key, "shop/prod/")] = b
	}
	return out
}

func (rs *remoteShop) put(t *testing.T, name string, b []byte) {
	t.Helper()
	if _, err := rs.client.PutObject(testCtx(t), rs.bucket, "shop/prod/"+name, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (rs *remoteShop) entry(t *testing.T, id string) Entry {
	t.Helper()
	l, err := List(testCtx(t), rs.Project)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Backups {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("backup %s is not listed: %+v", id, l.Backups)
	return Entry{}
}

// spoolFiles lists the regular files left in the spool, locks aside.
func spoolFiles(t *testing.T, spool string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(spool, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.Contains(path, "/"+locksDir+"/") {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// The round trip against a real object store, encrypted and not: backup,
// list, verify, verify --restore-test, restore, prune.
func TestRemoteRoundTrip(t *testing.T) {
	for _, encrypt := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "encrypted"}[encrypt]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rs := newRemoteShop(t, encrypt)
			res := mustBackup(t, rs.Shop, Options{})
			if want := "s3://" + rs.bucket + "/shop/prod/" + res.ID + "/"; res.Path != want {
				t.Errorf("backup path %s, want %s", res.Path, want)
			}
			if left := spoolFiles(t, rs.Project.Settings.S3.Spool); len(left) > 0 {
				t.Errorf("files left in the spool after the backup: %v", left)
			}
			objs := rs.objects(t, res.ID)
			m, err := archive.Parse("store", objs[res.ID+"/"+archive.ManifestFile])
			if err != nil {
				t.Fatalf("stored manifest: %v", err)
			}
			if len(objs) != len(m.Files)+1 {
				t.Errorf("%d objects stored, the manifest lists %d files (+ itself)", len(objs), len(m.Files))
			}
			roles := objs[res.ID+"/"+archive.RolesFile]
			ownerRole := rs.Project.OwnerRole(rs.Project.Services[0].Name)
			if encrypt {
				if m.Encryption == nil || m.Encryption.Method != "age" || m.Encryption.Recipients[0] != rs.identity.Recipient().String() {
					t.Errorf("manifest encryption = %+v, want age to the test's recipient", m.Encryption)
				}
				for _, f := range m.Files {
					if f.Stored == nil || f.Stored.SHA256 == f.SHA256 {
						t.Errorf("%s: stored %+v, want the encrypted object's own size and hash", f.Path, f.Stored)
					}
				}
				if !bytes.HasPrefix(roles, []byte("age-encryption.org/v1\n")) || bytes.Contains(roles, []byte(ownerRole)) {
					t.Errorf("stored roles.json is not age-encrypted: %.80q", roles)
				}
				plain, err := crypt.Decrypt(bytes.NewReader(roles), []age.Identity{rs.identity})
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := io.ReadAll(plain); !bytes.Contains(b, []byte(ownerRole)) {
					t.Errorf("decrypted roles.json does not name %s", ownerRole)
				}
			} else if m.Encryption != nil || !bytes.Contains(roles, []byte(ownerRole)) {
				t.Errorf("plain backup: encryption %+v, roles.json %.80q", m.Encryption, roles)
			}

			if e := rs.entry(t, res.ID); e.State != Complete || e.Rows != res.Rows {
				t.Errorf("listed as %+v, want complete with %d rows", e, res.Rows)
			}
			// verify needs no identity: it checks what is stored.
			idFile := rs.Project.Settings.Encryption.IdentityFile
			rs.Project.Settings.Encryption.IdentityFile = ""
			check, err := Check(testCtx(t), rs.Project, res.ID, CheckOptions{Jobs: 2})
			rs.Project.Settings.Encryption.IdentityFile = idFile
			if err != nil || !check.OK || check.Files != len(m.Files) {
				t.Fatalf("verify = %+v, %v; want ok over %d files", check, err, len(m.Files))
			}
			// It says what it could not check: that the files decrypt.
			if warned := strings.Contains(strings.Join(check.Warnings, "\n"), "not decrypted"); warned != encrypt {
				t.Errorf("verify warnings %q: a warning that nothing was decrypted is due exactly when the backup is encrypted (%v)", check.Warnings, encrypt)
			}
			if e := rs.entry(t, res.ID); e.State != Verified {
				t.Errorf("after verify, listed as %s, want verified", e.State)
			}
			rt, err := TestRestore(testCtx(t), rs.Project, rs.Server, res.ID, RestoreOptions{Jobs: 2, Audit: passAudit})
			if err != nil || !rt.OK || rt.Restore == nil || !rt.Restore.OK || !rt.Restore.Verify.OK {
				t.Fatalf("verify --restore-test = %+v, %v", rt, err)
			}
			db := rs.Server.Database + "_back"
			rr, err := Restore(testCtx(t), rs.Project, rs.Server, res.ID, restoreOpts(db))
			if err != nil || !rr.OK {
				t.Fatalf("restore = %+v, %v", rr, err)
			}
			if !exists(t, rs.Shop, db) {
				t.Errorf("restored database %s does not exist", db)
			}
			if left := spoolFiles(t, rs.Project.Settings.S3.Spool); len(left) > 0 {
				t.Errorf("downloaded files left in the spool: %v", left)
			}

			newer := mustBackup(t, rs.Shop, Options{})
			pr, err := Prune(testCtx(t), rs.Project, PruneOptions{Keep: 1, Jobs: 2})
			if err != nil {
				t.Fatal(err)
			}
			if len(pr.Kept) != 1 || pr.Kept[0] != newer.ID || len(pr.Deleted) != 1 || !strings.HasPrefix(pr.Deleted[0], res.ID) {
				t.Errorf("prune = %+v, want %s kept and %s deleted", pr, newer.ID, res.ID)
			}
			if left := rs.objects(t, res.ID); len(left) > 0 {
				t.Errorf("objects of the pruned backup left: %v", keys(left))
			}
			if len(rs.objects(t, newer.ID)) == 0 {
				t.Errorf("the kept backup's objects are gone")
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// An object changed, removed or added in the store: verify names it, and
// restore refuses the backup before creating anything.
func TestRemoteTampered(t *testing.T) {
	t.Parallel()
	rs := newRemoteShop(t, true)
	res := mustBackup(t, rs.Shop, Options{})
	var data string
	for _, f := range res.Manifest.Files {
		if strings.HasPrefix(f.Path, archive.DumpDir+"/") && f.Path != archive.DumpDir+"/toc.dat" {
			data = f.Path
			break
		}
	}
	objs := rs.objects(t, res.ID)
	changed := bytes.Clone(objs[res.ID+"/"+data])
	changed[len(changed)/2] ^= 1
	rs.put(t, res.ID+"/"+data, changed)
	rs.put(t, res.ID+"/dump/9999.dat", []byte("planted"))
	if _, err := rs.client.StatObject(testCtx(t), rs.bucket, "shop/prod/"+res.ID+"/"+archive.RolesScript, minio.StatObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := rs.client.RemoveObject(testCtx(t), rs.bucket, "shop/prod/"+res.ID+"/"+archive.RolesScript, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	check, err := Check(testCtx(t), rs.Project, res.ID, CheckOptions{Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{data: "changed in the repository", "dump/9999.dat": "not in the manifest", archive.RolesScript: "missing"}
	if check.OK || len(check.Problems) != len(want) {
		t.Errorf("verify = %+v, want %d problems", check, len(want))
	}
	for _, p := range check.Problems {
		if w, ok := want[p.Path]; !ok || !strings.Contains(p.Problem, w) {
			t.Errorf("problem %s, want one of %v", p, want)
		}
	}
	if e := rs.entry(t, res.ID); e.State != Damaged {
		t.Errorf("listed as %s after a failed verify, want damaged", e.State)
	}
	db := rs.Server.Database + "_back"
	_, err = Restore(testCtx(t), rs.Project, rs.Server, res.ID, restoreOpts(db))
	var pe *ProblemsError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), data) {
		t.Errorf("restore of the tampered backup: %v, want a refusal naming %s", err, data)
	}
	for _, name := range []string{db, workName(db, res.ID)} {
		if exists(t, rs.Shop, name) {
			t.Errorf("database %s exists after a refused restore", name)
		}
	}
	if left := spoolFiles(t, rs.Project.Settings.S3.Spool); len(left) > 0 {
		t.Errorf("downloaded files left in the spool: %v", left)
	}
}

// A wrong identity, or none, is refused before anything is downloaded or
// created.
func TestRemoteWrongIdentity(t *testing.T) {
	t.Parallel()
	rs := newRemoteShop(t, true)
	res := mustBackup(t, rs.Shop, Options{})
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	db := rs.Server.Database + "_back"
	for _, c := range []struct {
		file, want string
	}{
		{writeIdentity(t, other), "not one this backup was encrypted to"},
		{filepath.Join(t.TempDir(), "missing.agekey"), "missing.agekey"},
	} {
		rs.Project.Settings.Encryption.IdentityFile = c.file
		_, err := Restore(testCtx(t), rs.Project, rs.Server, res.ID, restoreOpts(db))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("restore with identity %s: %v, want an error saying %q", c.file, err, c.want)
		}
		if strings.Contains(err.Error(), "AGE-SECRET-KEY") {
			t.Errorf("the error shows an identity: %v", err)
		}
		for _, name := range []string{db, workName(db, res.ID)} {
			if exists(t, rs.Shop, name) {
				t.Errorf("database %s exists after a refused restore", name)
			}
		}
		if left := spoolFiles(t, rs.Project.Settings.S3.Spool); len(left) > 0 {
			t.Errorf("files downloaded with a wrong identity: %v", left)
		}
	}
	// The right one restores it.
	rs.Project.Settings.Encryption.IdentityFile = writeIdentity(t, rs.identity)
	if rr, err := Restore(testCtx(t), rs.Project, rs.Server, res.ID, restoreOpts(db)); err != nil || !rr.OK {
		t.Fatalf("restore with the right identity: %+v, %v", rr, err)
	}
}

// Wrong credentials, a missing bucket or a store that cannot be reached
// fail the backup with a clear error before pg_dump starts, leaving
// nothing behind.
func TestRemoteRefusedBeforeDump(t *testing.T) {
	rs := newRemoteShop(t, false)
	good := rs.Project.Settings
	for _, c := range []struct {
		name  string
		setup func()
		want  string
	}{
		{"wrong secret", func() { t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret") }, "check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"},
		{"unknown key", func() { t.Setenv("AWS_ACCESS_KEY_ID", "nobody") }, "AWS_ACCESS_KEY_ID"},
		{"no credentials", func() { t.Setenv("AWS_ACCESS_KEY_ID", ""); t.Setenv("AWS_SECRET_ACCESS_KEY", "") }, "no credentials"},
		{"missing bucket", func() { rs.Project.Settings.Backups = "s3://no-such-bucket-here/shop" }, `bucket "no-such-bucket-here" does not exist`},
		{"nothing listening", func() { rs.Project.Settings.S3.Endpoint = "127.0.0.1:1" }, "127.0.0.1:1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", rs.s3.AccessKey)
			t.Setenv("AWS_SECRET_ACCESS_KEY", rs.s3.SecretKey)
			rs.Project.Settings = good
			c.setup()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, err := Run(ctx, rs.Project, rs.Server, Options{Jobs: 2, dumpStarted: func(int, string) {
				t.Errorf("pg_dump started")
			}})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "not started") {
				t.Errorf("backup: %v, want a refusal saying %q", err, c.want)
			}
			if strings.Contains(err.Error(), rs.s3.SecretKey) {
				t.Errorf("the error shows the secret: %v", err)
			}
			if left := spoolFiles(t, good.S3.Spool); len(left) > 0 {
				t.Errorf("files left in the spool: %v", left)
			}
		})
	}
	rs.Project.Settings = good
	if objs := rs.objects(t, ""); len(objs) > 0 {
		t.Errorf("objects left in the bucket: %v", keys(objs))
	}
}

// The store stops in the middle of the upload: the backup fails, nothing
// in the store looks complete, and once the store is back the next prune
// removes what was uploaded.
func TestRemoteStoreStopsMidUpload(t *testing.T) {
	rs := newRemoteShop(t, true)
	rs.Seed(t, 3000)
	stopped := false
	_, err := Run(testCtx(t), rs.Project, rs.Server, Options{Jobs: 2, dumpStarted: func(int, string) {
		// Once the first files are stored, the server goes.
		deadline := time.Now().Add(time.Minute)
		for len(rs.objects(t, "")) == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		rs.s3.Stop()
		t.Log(time.Now().Format(time.TimeOnly), "stopped")
		stopped = true
	}})
	if !stopped {
		t.Fatalf("the server was not stopped during the backup (%v)", err)
	}
	var be *Error
	if !errors.As(err, &be) {
		t.Fatalf("backup with the store gone: %v, want a failed backup", err)
	}
	t.Log(time.Now().Format(time.TimeOnly), err)
	rs.s3.Restart(t)
	t.Log(time.Now().Format(time.TimeOnly), "restarted")
	objs := rs.objects(t, be.ID)
	if len(objs) == 0 {
		t.Fatal("nothing was uploaded before the server stopped: the test shows nothing")
	}
	if _, ok := objs[be.ID+"/"+archive.ManifestFile]; ok {
		t.Fatal("the failed backup's manifest is in the store")
	}
	e := rs.entry(t, be.ID)
	if e.Complete || e.State != Incomplete {
		t.Errorf("listed as %+v, want incomplete", e)
	}
	if _, err := Restore(testCtx(t), rs.Project, rs.Server, be.ID, restoreOpts(rs.Server.Database+"_back")); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("restore of the failed backup: %v, want a refusal saying it is incomplete", err)
	}
	pr, err := Prune(testCtx(t), rs.Project, PruneOptions{Keep: 1, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Deleted) != 1 || !strings.HasPrefix(pr.Deleted[0], be.ID+" (incomplete") {
		t.Errorf("prune deleted %v, want the failed backup", pr.Deleted)
	}
	if left := rs.objects(t, ""); len(left) > 0 {
		t.Errorf("objects left after prune: %v", keys(left))
	}
	if left := spoolFiles(t, rs.Project.Settings.S3.Spool); len(left) > 0 {
		t.Errorf("files left in the spool after prune: %v", left)
	}
}

// A backup that fails while the store is reachable marks itself failed
// there and deletes what it uploaded.
func TestRemoteFailedBackupCleansUp(t *testing.T) {
	t.Parallel()
	rs := newRemoteShop(t, false)
	_, err := Run(testCtx(t), rs.Project, rs.Server, Options{Jobs: 2, beforeManifest: func(string) error {
		return errors.New("planted failure")
	}})
	var be *Error
	if !errors.As(err, &be) {
		t.Fatalf("backup: %v, want a failed backup", err)
	}
	objs := rs.objects(t, be.ID)
	if len(objs) != 1 || !strings.Contains(string(objs[be.ID+"/"+archive.FailureFile]), "planted failure") {
		t.Errorf("objects after the failure: %v, want only its FAILED note", keys(objs))
	}
	if e := rs.entry(t, be.ID); e.State != Incomplete || !strings.Contains(e.Reason, "planted failure") {
		t.Errorf("listed as %+v, want incomplete, saying why", e)
	}
	// Another machine, which has no record of it, sees the same.
	os.RemoveAll(rs.Project.Settings.S3.Spool)
	if e := rs.entry(t, be.ID); e.State != Incomplete {
		t.Errorf("listed elsewhere as %+v, want incomplete", e)
	}
	if pr, err := Prune(testCtx(t), rs.Project, PruneOptions{Keep: 1, Jobs: 2}); err != nil || len(pr.Deleted) != 1 {
		t.Errorf("prune = %+v, %v; want the failed backup deleted", pr, err)
	}
	if left := rs.objects(t, ""); len(left) > 0 {
		t.Errorf("objects left after prune: %v", keys(left))
	}
}

// The backup command is killed (SIGKILL) while it uploads: while pg_dump's
// workers live the backup is in progress and prune leaves it alone; then
// nothing in the store looks complete, list says it was interrupted, and
// prune deletes what was uploaded.
func TestRemoteBackupKilled(t *testing.T) {
	t.Parallel()
	rs := newRemoteShop(t, false)
	rs.Exec(t, `CREATE TABLE public.big AS SELECT i, md5(i::text) || repeat(md5(random()::text), 12) AS pad FROM generate_series(1, 400000) i`)
	s3 := rs.Project.Settings.S3
	settings := fmt.Sprintf("database: %s\nbackups: %s\nnaming:\n  prefix: %s\ns3:\n  endpoint: %s\n  region: %s\n  path_style: true\n  allow_http: true\n  spool: %s\n",
		rs.Project.Settings.Database, rs.Project.Settings.Backups, rs.Project.Settings.Naming.Prefix, s3.Endpoint, s3.Region, s3.Spool)
	if err := os.WriteFile(filepath.Join(rs.Project.Dir, manifest.SettingsFile), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startKillHelper(t, rs.Shop)
	cmd, exited, leader := h.cmd, h.exited, h.leader
	t.Cleanup(func() { syscall.Kill(-leader, syscall.SIGKILL) })
	// Kill the command once it has uploaded something.
	for range 3000 {
		if len(rs.objects(t, "")) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	l, err := List(testCtx(t), rs.Project)
	if err != nil || len(l.Backups) != 1 {
		t.Fatalf("list after the kill: %+v, %v; want the one backup", l, err)
	}
	id := l.Backups[0].ID
	for deadline := time.Now().Add(2 * time.Minute); len(processesInGroup(leader)) > 0; {
		e := rs.entry(t, id)
		if alive := processesInGroup(leader); len(alive) > 0 && e.State != InProgress {
			t.Fatalf("pg_dump processes %v still run, but list says %+v", alive, e)
		}
		if time.Now().After(deadline) {
			t.Fatal("pg_dump processes still run after 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	objs := rs.objects(t, id)
	if len(objs) == 0 {
		t.Fatal("nothing was uploaded before the kill: the test shows nothing")
	}
	if _, ok := objs[id+"/"+archive.ManifestFile]; ok {
		t.Fatal("the killed backup's manifest is in the store")
	}
	if e := rs.entry(t, id); e.State != Incomplete || !strings.Contains(e.Reason, "interrupted") {
		t.Errorf("after pg_dump's last process exited: %+v, want incomplete, interrupted", e)
	}
	if pr, err := Prune(testCtx(t), rs.Project, PruneOptions{Keep: 1, Jobs: 2}); err != nil || len(pr.Deleted) != 1 {
		t.Errorf("prune = %+v, %v; want the killed backup deleted", pr, err)
	}
	if left := rs.objects(t, ""); len(left) > 0 {
		t.Errorf("objects left after prune: %v", keys(left))
	}
}

// The spool's disk fills up (a tmpfs too small for one file of the dump):
// the backup fails saying so, deletes what it uploaded, and nothing in the
// store looks complete.
func TestRemoteSpoolFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	rs := newRemoteShop(t, true)
	rs.Seed(t, 3000)
	spool := rs.Project.Settings.S3.Spool
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", spool).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", spool).Run() })
	_, err := Run(testCtx(t), rs.Project, rs.Server, Options{Jobs: 2, Compress: "0"})
	var be *Error
	if !errors.As(err, &be) || !strings.Contains(strings.ToLower(err.Error()), "no space left on device") || !strings.Contains(err.Error(), "spool") {
		t.Fatalf("backup with a full spool: %v, want a failure saying the spool's disk is full", err)
	}
	t.Log(err)
	objs := rs.objects(t, be.ID)
	if len(objs) != 1 || objs[be.ID+"/"+archive.FailureFile] == nil {
		t.Errorf("objects after the failure: %v, want only its FAILED note", keys(objs))
	}
	if e := rs.entry(t, be.ID); e.State != Incomplete {
		t.Errorf("listed as %+v, want incomplete", e)
	}
}
