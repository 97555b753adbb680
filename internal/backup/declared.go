package backup

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/manifest"
)

// declaredGlobals returns what a restore may create of the saved globals g:
// the project's own service roles, each with the attributes provisioning
// gives it (an owner NOLOGIN, an app role LOGIN, a migrator LOGIN NOINHERIT
// without a password, none SUPERUSER, CREATEROLE, CREATEDB, REPLICATION
// nor BYPASSRLS) whatever roles.json says, and the app role's saved
// password verifier; settings of those roles and of the database that any
// user may set for their own session (userSettings); grants on the
// database to PUBLIC and to those roles. The only memberships are each
// migrator's in its owner role, as provisioning grants them.
// Everything else in roles.json is left out and described in ignored.
// roles.json is outside input: a backup folder may have been edited.
func declaredGlobals(p *manifest.Project, g *archive.Globals, userSettings map[string]bool) (out *archive.Globals, ignored []string) {
	declared := map[string]bool{}
	apps := map[string]bool{}
	migrators := map[string]string{} // migrator role -> the owner role it is a member of
	for _, s := range p.Services {
		declared[p.OwnerRole(s.Name)] = true
		declared[p.AppRole(s.Name)] = true
		apps[p.AppRole(s.Name)] = true
		declared[p.MigratorRole(s.Name)] = true
		migrators[p.MigratorRole(s.Name)] = p.OwnerRole(s.Name)
	}
	saved := map[string]archive.Role{}
	for _, r := range g.Roles {
		saved[r.Name] = r
		if !declared[r.Name] {
			ignored = append(ignored, fmt.Sprintf("role %s%s: not a role of the project's services, not created", r.Name, attrList(r)))
		}
	}
	out = &archive.Globals{DefaultACL: g.DefaultACL, Memberships: []archive.Membership{}}
	for _, name := range ServiceRoles(p) {
		_, migrator := migrators[name]
		// A migrator logs in only with the password a migration run sets
		// for itself: none is restored.
		r := archive.Role{Name: name, Inherit: !migrator, Login: apps[name] || migrator, ConnLimit: -1}
		if s, ok := saved[name]; ok {
			if extra := attrList(s); extra != "" {
				ignored = append(ignored, fmt.Sprintf("role %s%s in roles.json: created as provisioning makes it (%s, none of SUPERUSER, CREATEROLE, CREATEDB, REPLICATION, BYPASSRLS)",
					name, extra, map[bool]string{true: "LOGIN", false: "NOLOGIN"}[r.Login]))
			}
			if s.Password != "" && r.Login {
				r.Password = s.Password
			}
		}
		out.Roles = append(out.Roles, r)
	}
	out.Memberships = append(out.Memberships, declaredMemberships(migrators)...)
	for _, m := range g.Memberships {
		if migrators[m.Member] == m.Role {
			continue
		}
		ignored = append(ignored, fmt.Sprintf("membership of %s in %s: a service role is a member of no role, and the project declares no other; not granted", m.Member, m.Role))
	}
	for _, s := range g.Settings {
		switch {
		case s.Role != "" && !declared[s.Role]:
			ignored = append(ignored, fmt.Sprintf("setting %s of role %s: not a role of the project, not set", s.Name, s.Role))
		case !userSetting(s.Name, userSettings):
			who := "the database"
			if s.Role != "" {
				who = "role " + s.Role
			}
			ignored = append(ignored, fmt.Sprintf("setting %s of %s: only settings any user may set are restored, not set", s.Name, who))
		default:
			out.Settings = append(out.Settings, s)
		}
	}
	for _, gr := range g.DatabaseACL {
		if gr.Grantee != "" && !declared[gr.Grantee] {
			ignored = append(ignored, fmt.Sprintf("grant of %s on the database to %s: not a role of the project, not granted", gr.Privilege, gr.Grantee))
			continue
		}
		out.DatabaseACL = append(out.DatabaseACL, gr)
	}
	return out, ignored
}

// declaredMemberships are the memberships provisioning grants: each
// migrator role in its service's owner role, sorted by member.
func declaredMemberships(migrators map[string]string) []archive.Membership {
	var out []archive.Membership
	for _, member := range slices.Sorted(maps.Keys(migrators)) {
		out = append(out, archive.Membership{Role: migrators[member], Member: member})
	}
	return out
}

// attrList renders the attributes of r no service role may hold, e.g.
// " (SUPERUSER, BYPASSRLS)", or "".
func attrList(r archive.Role) string {
	var a []string
	for _, f := range []struct {
		on   bool
		name string
	}{{r.Superuser, "SUPERUSER"}, {r.CreateRole, "CREATEROLE"}, {r.CreateDB, "CREATEDB"}, {r.Replication, "REPLICATION"}, {r.BypassRLS, "BYPASSRLS"}} {
		if f.on {
			a = append(a, f.name)
		}
	}
	if len(a) == 0 {
		return ""
	}
	return " (" + strings.Join(a, ", ") + ")"
}

// userSetting tells whether any user may set name for their own session:
// a setting of context user, or a custom placeholder (a dotted name the
// server does not know).
func userSetting(name string, userSettings map[string]bool) bool {
	if userSettings[strings.ToLower(name)] {
		return true
	}
	_, known := userSettings["\x00"+strings.ToLower(name)]
	return strings.Contains(name, ".") && !known
}

// readUserSettings returns the settings of context user on the server,
// and every other known setting under "\x00"+name.
func readUserSettings(ctx context.Context, conn *pgx.Conn) (map[string]bool, error) {
	rows, err := conn.Query(ctx, `SELECT lower(name), context = 'user' FROM pg_catalog.pg_settings`)
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	out := map[string]bool{}
	var name string
	var user bool
	_, err = pgx.ForEachRow(rows, []any{&name, &user}, func() error {
		out["\x00"+name] = true
		if user {
			out[name] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	return out, nil
}

// sortedIgnored sorts and dedups the report.
func sortedIgnored(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
