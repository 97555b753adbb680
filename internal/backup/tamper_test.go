package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/backup/backuptest"
	"github.com/splitschema/splitschema/internal/target"
)

// forge replaces file rel of backup folder dir with data and updates its
// size and SHA-256 in manifest.json, and the manifest's own checksum: what
// someone who knows the format does. The manifest's signature, if any, is
// kept as it was (the forger has no key) unless strip.
func forge(t *testing.T, dir, rel string, data []byte, strip bool) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(rel)), data, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := archive.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := m.Seal
	sum := sha256.Sum256(data)
	for i := range m.Files {
		if m.Files[i].Path == rel {
			m.Files[i].Size, m.Files[i].SHA256 = int64(len(data)), hex.EncodeToString(sum[:])
		}
	}
	if err := archive.Write(dir, m, nil); err != nil {
		t.Fatal(err)
	}
	if strip || old == nil || old.HMACSHA256 == "" {
		return
	}
	path := filepath.Join(dir, archive.ManifestFile)
	body, _ := os.ReadFile(path)
	sealed := `"sha256":"` + m.Seal.SHA256 + `"`
	body = []byte(strings.Replace(string(body), sealed, sealed+`,"hmac_sha256":"`+old.HMACSHA256+`","key_id":"`+old.KeyID+`"`, 1))
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
}

// addSuperuser returns roles.json of dir with a SUPERUSER LOGIN role named
// name added and the app role given every forbidden attribute.
func addSuperuser(t *testing.T, dir, name, app string) []byte {
	t.Helper()
	g, err := archive.ReadGlobals(dir)
	if err != nil {
		t.Fatal(err)
	}
	g.Roles = append(g.Roles, archive.Role{Name: name, Superuser: true, Login: true, Inherit: true, ConnLimit: -1})
	for i := range g.Roles {
		if g.Roles[i].Name == app {
			g.Roles[i].Superuser, g.Roles[i].CreateRole, g.Roles[i].BypassRLS = true, true, true
		}
	}
	g.Memberships = append(g.Memberships, archive.Membership{Role: "pg_read_server_files", Member: app})
	data, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The forged backup: roles.json edited to add a SUPERUSER LOGIN
// role, its SHA-256 and size updated in manifest.json. Unsigned, the
// checksums cannot tell, but restore creates only the project's roles with
// provisioning's attributes, and reports the rest; the restore says the
// backup is unsigned.
func TestForgedRolesNotCreated(t *testing.T) {
	t.Parallel()
	second := secondCluster(t)
	shop := backuptest.New(t)
	res := mustBackup(t, shop, Options{})
	app := shop.Project.AppRole("orders")
	evil := shop.Project.Settings.Naming.Prefix + "evil"
	forge(t, res.Path, archive.RolesFile, addSuperuser(t, res.Path, evil, app), false)

	cr, err := Check(testCtx(t), shop.Project, res.ID, CheckOptions{Jobs: 2})
	if err != nil || !cr.OK || cr.Signature != archive.Unsigned || len(cr.Warnings) == 0 {
		t.Fatalf("check of the unsigned forgery: %+v, %v; want it to pass its checksums with a warning that it is unsigned", cr, err)
	}
	o := RestoreOptions{TargetURL: replaceDB(second, "forged"), Jobs: 2, Audit: passAudit, AppPassword: appPassword(shop.Project.Dir)}
	rr, err := Restore(testCtx(t), shop.Project, shop.Server, res.ID, o)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	report := strings.Join(rr.Ignored, "\n")
	for _, want := range []string{evil + " (SUPERUSER)", app + " (SUPERUSER, CREATEROLE, BYPASSRLS)", "pg_read_server_files"} {
		if !strings.Contains(report, want) {
			t.Errorf("ignored report does not name %q:\n%s", want, report)
		}
	}
	if len(rr.Warnings) == 0 || !strings.Contains(rr.Human(), "unsigned") {
		t.Errorf("restore of an unsigned backup does not warn:\n%s", rr.Human())
	}
	tsrv, _ := target.FromURL(o.TargetURL, "")
	conn, err := tsrv.Connect(testCtx(t), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(testCtx(t))
	var n int
	conn.QueryRow(testCtx(t), "SELECT count(*) FROM pg_roles WHERE rolname = $1", evil).Scan(&n)
	if n != 0 {
		t.Errorf("the forged role %s was created", evil)
	}
	var bad []string
	rows, _ := conn.Query(testCtx(t), `SELECT rolname FROM pg_roles WHERE rolname = ANY($1) AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls)`, ServiceRoles(shop.Project))
	bad, _ = pgx.CollectRows(rows, pgx.RowTo[string])
	if len(bad) > 0 {
		t.Errorf("service roles with forbidden attributes after restore: %v", bad)
	}
	conn.QueryRow(testCtx(t), "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = $1", app).Scan(&n)
	if n != 0 {
		t.Errorf("%s was made a member of %d role(s)", app, n)
	}
}

// With a key configured the manifest is signed, and a forgery is refused by
// backup verify and restore: roles.json changed, a data file changed, each
// with the manifest updated; the signature stripped; bit rot in the
// manifest itself.
func TestSignedBackupRefusesForgery(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	keyFile := filepath.Join(t.TempDir(), "backup.key")
	if err := os.WriteFile(keyFile, []byte("a secret of at least thirty-two bytes, for the test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	shop.Project.Settings.BackupKeyFile = keyFile
	res := mustBackup(t, shop, Options{})
	if res.SignedBy == "" || res.Manifest.Seal == nil || res.Manifest.Seal.HMACSHA256 == "" {
		t.Fatalf("backup with a key configured is not signed: %+v", res.Manifest.Seal)
	}
	if cr, err := Check(testCtx(t), shop.Project, res.ID, CheckOptions{Jobs: 2}); err != nil || !cr.OK || cr.Signature != archive.SignatureValid {
		t.Fatalf("check of the untouched signed backup: %+v, %v", cr, err)
	}
	dataFile := ""
	for _, f := range res.Manifest.Files {
		if strings.HasPrefix(f.Path, "dump/") && f.Path != "dump/toc.dat" && f.Size > 100 {
			dataFile = f.Path
			break
		}
	}
	for _, tc := range []struct {
		name   string
		damage func(dir string)
		want   string
	}{
		{"forged roles.json", func(dir string) {
			forge(t, dir, archive.RolesFile, addSuperuser(t, dir, "evil", shop.Project.AppRole("orders")), false)
		}, "signature does not match"},
		{"forged data file", func(dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, dataFile))
			data[len(data)/2] ^= 0x20
			forge(t, dir, dataFile, data, false)
		}, "signature does not match"},
		{"signature stripped", func(dir string) {
			forge(t, dir, archive.RolesFile, addSuperuser(t, dir, "evil", shop.Project.AppRole("orders")), true)
		}, "unsigned backup is refused"},
		{"manifest bit rot", func(dir string) {
			path := filepath.Join(dir, archive.ManifestFile)
			data, _ := os.ReadFile(path)
			i := strings.Index(string(data), `"rows": `) + len(`"rows": `)
			data[i] ^= 0x01 // a digit becomes another
			os.WriteFile(path, data, 0o600)
		}, "does not match its own checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p2 := *shop.Project
			p2.Settings.Backups = t.TempDir()
			dir := filepath.Join(p2.Settings.Backups, res.ID)
			copyDir(t, res.Path, dir)
			tc.damage(dir)
			cr, err := Check(testCtx(t), &p2, res.ID, CheckOptions{Jobs: 2})
			msg := ""
			switch {
			case err != nil:
				msg = err.Error()
			case cr.OK:
				t.Fatalf("backup verify passed the %s: %s", tc.name, cr.Human())
			default:
				msg = cr.Human()
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("backup verify: %s, want %q", msg, tc.want)
			}
			_, err = Restore(testCtx(t), &p2, shop.Server, res.ID, restoreOpts(shop.Server.Database+"_forged"))
			var pe *ProblemsError
			if err == nil || (!errors.As(err, &pe) && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("restore of the %s: err = %v, want a refusal", tc.name, err)
			}
			l, _ := List(context.Background(), &p2)
			if len(l.Backups) != 1 || l.Backups[0].State != Damaged {
				t.Errorf("list after the check: %+v, want it damaged", l.Backups)
			}
		})
	}
	// The stripped one is accepted when asked, with a warning.
	p2 := *shop.Project
	p2.Settings.Backups = t.TempDir()
	dir := filepath.Join(p2.Settings.Backups, res.ID)
	copyDir(t, res.Path, dir)
	forge(t, dir, archive.RolesFile, addSuperuser(t, dir, "evil", shop.Project.AppRole("orders")), true)
	cr, err := Check(testCtx(t), &p2, res.ID, CheckOptions{Jobs: 2, AllowUnsigned: true})
	if err != nil || !cr.OK || !slices.ContainsFunc(cr.Warnings, func(w string) bool { return strings.Contains(w, "unsigned") }) {
		t.Errorf("--allow-unsigned: %+v, %v; want it accepted with a warning", cr, err)
	}
}
