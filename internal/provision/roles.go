package provision

import (
	"errors"
	"slices"
	"strings"

	"github.com/splitschema/splitschema/internal/catalog"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/secrets"
)

// forbidden are the attributes no service role may hold.
const forbidden = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"

// planRoles creates the owner and application roles of svc, or puts their
// attributes and the application password right.
func (pl *planner) planRoles(svc *manifest.Service) {
	owner, app := pl.p.OwnerRole(svc.Name), pl.p.AppRole(svc.Name)
	if r := pl.snap.Roles[owner]; r == nil {
		pl.add(Change{Service: svc.Name, Action: ActionCreateRole, phase: phaseRoles,
			SQL: "CREATE ROLE " + ident(owner) + " NOLOGIN " + forbidden})
	} else {
		pl.alterRole(svc.Name, r, false)
	}
	pl.planMigrator(svc)
	r := pl.snap.Roles[app]
	if r == nil {
		c := Change{Service: svc.Name, Action: ActionCreateRole, phase: phaseRoles,
			SQL: "CREATE ROLE " + ident(app) + " LOGIN " + forbidden}
		pl.withPassword(&c, svc.Name, slices.Contains(pl.opts.NewPasswords, svc.Name))
		pl.add(c)
		return
	}
	pl.alterRole(svc.Name, r, true)
	pl.planPassword(svc.Name, app)
}

// planMigrator creates svc's migrator role, the login its migrations run
// in: NOINHERIT, no password (a migration run sets one it alone knows and
// clears it afterwards), and a member of the owner role only, so that
// whatever a migration does to its session (RESET ROLE, SET ROLE NONE,
// set_config('role', …)) it holds at most the owner's rights.
func (pl *planner) planMigrator(svc *manifest.Service) {
	owner, migrator := pl.p.OwnerRole(svc.Name), pl.p.MigratorRole(svc.Name)
	r := pl.snap.Roles[migrator]
	if r == nil {
		pl.add(Change{Service: svc.Name, Action: ActionCreateRole, phase: phaseRoles,
			SQL:  "CREATE ROLE " + ident(migrator) + " LOGIN NOINHERIT " + forbidden,
			Note: "migrations log in as it and act as " + owner + "; it has no password between runs"})
	} else {
		pl.alterRole(svc.Name, r, true)
		if r.Inherit {
			pl.add(Change{Service: svc.Name, Action: ActionAlterRole, phase: phaseRoles, needsAdminOf: migrator,
				SQL: "ALTER ROLE " + ident(migrator) + " NOINHERIT", Note: "attributes changed by hand"})
		}
	}
	if r != nil && slices.ContainsFunc(pl.snap.Memberships, func(m catalog.Membership) bool {
		return m.Member == migrator && m.Role == owner
	}) {
		return
	}
	var adminOf string
	if pl.snap.Roles[owner] != nil {
		adminOf = owner
	}
	pl.add(Change{Service: svc.Name, Action: ActionMembership, phase: phaseMembers, needsAdminOf: adminOf,
		SQL:  "GRANT " + ident(owner) + " TO " + ident(migrator),
		Note: "the migrator acts as the owner, and as nothing else"})
}

// alterRole fixes attributes changed by hand: an owner never logs in and
// has no password, an application or migrator role logs in, and none holds
// a forbidden attribute.
func (pl *planner) alterRole(svc string, r *catalog.Role, login bool) {
	var attrs []string
	super := r.Superuser
	if r.Login != login {
		attrs = append(attrs, map[bool]string{true: "LOGIN", false: "NOLOGIN"}[login])
	}
	for _, a := range []struct {
		held      bool
		sql       string
		superOnly bool
	}{
		{r.Superuser, "NOSUPERUSER", true},
		{r.CreateDB, "NOCREATEDB", false},
		{r.CreateRole, "NOCREATEROLE", false},
		{r.Replication, "NOREPLICATION", true},
		{r.BypassRLS, "NOBYPASSRLS", true},
	} {
		if a.held {
			attrs = append(attrs, a.sql)
			super = super || a.superOnly
		}
	}
	if login && r.ValidUntil != nil && r.Name != pl.p.MigratorRole(svc) {
		attrs = append(attrs, "VALID UNTIL 'infinity'")
	}
	if !login && pl.snap.Verifiers[r.Name] != "" { // known only to a superuser
		attrs = append(attrs, "PASSWORD NULL")
	}
	if len(attrs) == 0 {
		return
	}
	pl.add(Change{Service: svc, Action: ActionAlterRole, phase: phaseRoles, needsSuper: super, needsAdminOf: r.Name,
		SQL: "ALTER ROLE " + ident(r.Name) + " " + strings.Join(attrs, " "), Note: "attributes changed by hand"})
}

// planPassword decides whether an existing application role needs its
// password set. The desired password is SPLITSCHEMA_PASSWORD_<SVC>, else the
// one in the secrets file. A superuser admin compares it with the stored
// verifier; another admin can only compare the variable with the file. A
// role whose password nobody here knows keeps it (another machine or a CI
// run may have set it): a warning says how to get a new one.
func (pl *planner) planPassword(svc, app string) {
	if slices.Contains(pl.opts.NewPasswords, svc) {
		pl.setPassword(svc, app, "a new password was asked for (--new-password)", true)
		return
	}
	pw, src, err := secrets.Lookup(pl.p.Dir, svc)
	if err != nil && !isNoPassword(err) {
		pl.problem("service %s: %v", svc, err)
		return
	}
	verifier, known := pl.snap.Verifiers[app] // known only to a superuser
	switch {
	case known && verifier == "":
		pl.setPassword(svc, app, "the role has no password", false)
	case pw == "":
		pl.warn("%s: its password is unknown here (neither %s nor %s): it is left as it is, and `url`/`audit` cannot log in as it; set the variable, or run `splitschema provision --new-password %s`",
			app, secrets.EnvVar(svc), secrets.Path(pl.p.Dir, svc), svc)
	case known && !matches(pl.p.Dir, svc, app, verifier, pw):
		pl.setPassword(svc, app, "the role's password differs from "+src.Describe(svc), false)
	case !known && src == secrets.FromEnv:
		if filePw, err := secrets.FilePassword(pl.p.Dir, svc); err != nil || filePw != pw {
			pl.setPassword(svc, app, secrets.EnvVar(svc)+" differs from the secrets file", false)
		}
	}
}

func (pl *planner) setPassword(svc, app, note string, fresh bool) {
	c := Change{Service: svc, Action: ActionPassword, phase: phaseRoles, SQL: "ALTER ROLE " + ident(app), Note: note, needsAdminOf: app}
	pl.withPassword(&c, svc, fresh)
	pl.add(c)
}

// withPassword appends PASSWORD to a CREATE or ALTER ROLE of svc's
// application role: '***' in SQL; Apply runs the statement with the
// verifier. The password is SPLITSCHEMA_PASSWORD_<SVC> or the secrets
// file's, else (or when fresh) a generated one.
func (pl *planner) withPassword(c *Change, svc string, fresh bool) {
	c.SQL += " PASSWORD '***'"
	var pw string
	var src secrets.Source
	if !fresh {
		var err error
		pw, src, err = secrets.Lookup(pl.p.Dir, svc)
		if err != nil && !isNoPassword(err) {
			pl.problem("service %s: %v", svc, err)
			return
		}
	}
	switch {
	case pw == "" && c.Note == "":
		c.Note = "password generated, written to " + secrets.Path(pl.p.Dir, svc)
	case pw == "":
		c.Note += "; a new password is generated, written to " + secrets.Path(pl.p.Dir, svc)
	case c.Note == "":
		c.Note = "password from " + src.Describe(svc)
	}
	if pw == "" && pl.forApply {
		pw = secrets.Generate()
	}
	c.password = &newPassword{service: svc, value: pw}
}

// planMemberships revokes every membership a service role holds in another
// role (another service's, or a predefined one such as pg_read_all_data),
// and makes a non-superuser admin a member of each owner role, so that
// migrations can SET ROLE to it. Members of service roles that are not
// service roles (administrators) are left alone.
//
// From PostgreSQL 16 on a member holds a role once per grantor, and REVOKE
// takes back only the grant of the role GRANTED BY names (by default the
// current user, for a superuser the bootstrap superuser: a grant made by
// anyone else survives a plain REVOKE, with a mere warning). So each grant
// is revoked naming its grantor, with CASCADE for the grants the member
// made with it.
func (pl *planner) planMemberships() {
	perGrantor := pl.snap.Admin.ServerVersion >= 160000
	for _, m := range pl.snap.Memberships {
		svc := pl.roleService[m.Member]
		if svc == "" || (m.Member == pl.p.MigratorRole(svc) && m.Role == pl.p.OwnerRole(svc)) {
			continue
		}
		r := pl.snap.Roles[m.Role]
		sql := "REVOKE " + ident(m.Role) + " FROM " + ident(m.Member)
		if perGrantor && m.Grantor != "" {
			sql += " GRANTED BY " + ident(m.Grantor) + " CASCADE"
		}
		pl.add(Change{Service: svc, Action: ActionMembership, phase: phaseMembers,
			needsSuper: r != nil && r.Superuser, needsAdminOf: m.Role,
			SQL: sql, Note: "a service role is a member of no role"})
	}
	if pl.snap.Admin.Superuser {
		return
	}
	for _, svc := range pl.p.OrderedServices() {
		owner := pl.p.OwnerRole(svc.Name)
		if !pl.snap.AdminMemberOf[owner] {
			var adminOf string
			if pl.snap.Roles[owner] != nil { // one the admin creates now is its own
				adminOf = owner
			}
			pl.add(Change{Service: svc.Name, Action: ActionMembership, phase: phaseMembers, needsAdminOf: adminOf,
				SQL:  "GRANT " + ident(owner) + " TO " + ident(pl.snap.Admin.Name),
				Note: "the admin is no superuser: membership lets it create the schema and run migrations as the owner"})
		}
	}
}

func isNoPassword(err error) bool { return errors.Is(err, secrets.ErrNoPassword) }

// matches reports whether the stored verifier accepts pw: at once when the
// secrets file holds pw and recorded that very verifier, else by deriving
// the keys (a few milliseconds each).
func matches(dir, svc, app, verifier, pw string) bool {
	if filePw, recorded := secrets.Recorded(dir, svc); recorded != "" && recorded == verifier && filePw == pw {
		return true
	}
	return secrets.Matches(verifier, app, pw)
}
