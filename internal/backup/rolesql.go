package backup

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/pgsql"
)

// The statements that rebuild the saved roles and the database's grants and
// settings, for restore and for roles.sql. Names are quoted with
// pgx.Identifier; values are SQL literals made by quoteLiteral; setting
// names and privileges are checked against strict patterns first.

func ident(s string) string { return pgsql.Ident(s) }

// quoteLiteral makes an SQL string literal of s (pgsql.Literal), refusing
// a NUL byte, which no text value may hold.
func quoteLiteral(s string) (string, error) {
	if strings.ContainsRune(s, 0) {
		return "", fmt.Errorf("value %q holds a NUL byte", s)
	}
	return pgsql.Literal(s), nil
}

// createRoleSQL creates role r with its attributes and, when not empty,
// the password verifier (never a clear-text password: see scramVerifier).
func createRoleSQL(r archive.Role, verifier string) (string, error) {
	flag := func(on bool, yes, no string) string {
		if on {
			return yes
		}
		return no
	}
	parts := []string{
		flag(r.Superuser, "SUPERUSER", "NOSUPERUSER"),
		flag(r.Inherit, "INHERIT", "NOINHERIT"),
		flag(r.CreateRole, "CREATEROLE", "NOCREATEROLE"),
		flag(r.CreateDB, "CREATEDB", "NOCREATEDB"),
		flag(r.Login, "LOGIN", "NOLOGIN"),
		flag(r.Replication, "REPLICATION", "NOREPLICATION"),
		flag(r.BypassRLS, "BYPASSRLS", "NOBYPASSRLS"),
		fmt.Sprintf("CONNECTION LIMIT %d", r.ConnLimit),
	}
	if r.ValidUntil != nil {
		lit, _ := quoteLiteral(r.ValidUntil.UTC().Format(time.RFC3339Nano))
		parts = append(parts, "VALID UNTIL "+lit)
	}
	if verifier != "" {
		lit, err := quoteLiteral(verifier)
		if err != nil {
			return "", fmt.Errorf("role %s: password verifier: %w", r.Name, err)
		}
		parts = append(parts, "PASSWORD "+lit)
	}
	return "CREATE ROLE " + ident(r.Name) + " WITH " + strings.Join(parts, " "), nil
}

// grantMembershipSQL grants m.Role to m.Member; the PostgreSQL 16 INHERIT
// and SET options are given when the target server has them.
func grantMembershipSQL(m archive.Membership, serverMajor int) string {
	sql := "GRANT " + ident(m.Role) + " TO " + ident(m.Member)
	var with []string
	if m.AdminOption {
		with = append(with, "ADMIN TRUE")
	}
	if serverMajor >= 16 {
		if m.InheritOption != nil {
			with = append(with, fmt.Sprintf("INHERIT %t", *m.InheritOption))
		}
		if m.SetOption != nil {
			with = append(with, fmt.Sprintf("SET %t", *m.SetOption))
		}
	}
	switch {
	case len(with) == 0:
	case serverMajor >= 16:
		sql += " WITH " + strings.Join(with, ", ")
	default:
		sql += " WITH ADMIN OPTION"
	}
	return sql
}

var (
	settingName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)
	privilege   = regexp.MustCompile(`^[A-Z ]+$`)
)

// listQuoted are the settings whose value is a list of quoted elements
// (pg_dump's variable_is_guc_list_quote).
var listQuoted = map[string]bool{
	"local_preload_libraries": true, "search_path": true, "session_preload_libraries": true,
	"shared_preload_libraries": true, "temp_tablespaces": true, "unix_socket_directories": true,
}

// settingSQL renders one saved setting for database db.
func settingSQL(s archive.Setting, db string) (string, error) {
	if !settingName.MatchString(s.Name) {
		return "", fmt.Errorf("setting name %q is not a configuration parameter", s.Name)
	}
	var value string
	if listQuoted[strings.ToLower(s.Name)] {
		elems, err := splitGUCList(s.Value)
		if err != nil {
			return "", fmt.Errorf("setting %s: %w", s.Name, err)
		}
		var lits []string
		for _, e := range elems {
			lit, err := quoteLiteral(e)
			if err != nil {
				return "", fmt.Errorf("setting %s: %w", s.Name, err)
			}
			lits = append(lits, lit)
		}
		if len(lits) == 0 {
			lits = []string{"''"}
		}
		value = strings.Join(lits, ", ")
	} else {
		lit, err := quoteLiteral(s.Value)
		if err != nil {
			return "", fmt.Errorf("setting %s: %w", s.Name, err)
		}
		value = lit
	}
	set := " SET " + s.Name + " = " + value
	switch {
	case s.Role == "":
		return "ALTER DATABASE " + ident(db) + set, nil
	case s.InDatabase:
		return "ALTER ROLE " + ident(s.Role) + " IN DATABASE " + ident(db) + set, nil
	default:
		return "ALTER ROLE " + ident(s.Role) + set, nil
	}
}

// splitGUCList splits a list setting as PostgreSQL stores it (elements
// separated by commas, double-quoted when needed) into its elements.
func splitGUCList(s string) ([]string, error) {
	var out []string
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	skip()
	if i == len(s) {
		return nil, nil
	}
	for {
		var elem strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated quote in %q", s)
				}
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						elem.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				elem.WriteByte(s[i])
				i++
			}
		} else {
			for i < len(s) && s[i] != ',' && s[i] != ' ' && s[i] != '\t' {
				elem.WriteByte(s[i])
				i++
			}
		}
		out = append(out, elem.String())
		skip()
		if i == len(s) {
			return out, nil
		}
		if s[i] != ',' {
			return nil, fmt.Errorf("unexpected %q in list %q", s[i], s)
		}
		i++
		skip()
	}
}

// databaseGrantSQL renders one saved grant on database db.
func databaseGrantSQL(g archive.Grant, db string) (string, error) {
	if !privilege.MatchString(g.Privilege) {
		return "", fmt.Errorf("privilege %q is not a database privilege", g.Privilege)
	}
	to := "PUBLIC"
	if g.Grantee != "" {
		to = ident(g.Grantee)
	}
	sql := "GRANT " + g.Privilege + " ON DATABASE " + ident(db) + " TO " + to
	if g.Grantable {
		sql += " WITH GRANT OPTION"
	}
	return sql, nil
}

// databaseSQL returns the statements that give database db the saved
// grants and settings: when the source had non-default privileges, PUBLIC
// first loses all of them.
func databaseSQL(g *archive.Globals, db string) ([]string, error) {
	var out []string
	if !g.DefaultACL {
		out = append(out, "REVOKE ALL ON DATABASE "+ident(db)+" FROM PUBLIC")
		for _, gr := range g.DatabaseACL {
			sql, err := databaseGrantSQL(gr, db)
			if err != nil {
				return nil, err
			}
			out = append(out, sql)
		}
	}
	for _, s := range g.Settings {
		if s.Role != "" && !s.InDatabase {
			continue // a role's cluster-wide setting goes with the role
		}
		sql, err := settingSQL(s, db)
		if err != nil {
			return nil, err
		}
		out = append(out, sql)
	}
	return out, nil
}

// rolesScript renders roles.json as a psql script for people: it creates
// the missing roles (leaving existing ones alone), their memberships and
// settings, then gives database db its grants and settings.
func rolesScript(g *archive.Globals, id, db string, serverMajor int) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "-- Roles of splitschema backup %s of database %s.\n", id, db)
	b.WriteString("-- `splitschema restore` does all of this itself, from roles.json. By hand: run\n")
	b.WriteString("-- part 1 as a superuser before pg_restore; part 2 once the database exists\n")
	b.WriteString("-- (replace its name when restoring under another one).\n")
	if hasPasswords(g) {
		b.WriteString("-- This file holds the roles' password verifiers: keep it secret.\n")
	} else {
		b.WriteString("-- No passwords were saved: set the login roles' passwords after creating them.\n")
	}
	b.WriteString("\n-- Part 1: roles, cluster-wide.\n")
	for _, r := range g.Roles {
		create, err := createRoleSQL(r, r.Password)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "DO $splitschema$ BEGIN\n  %s;\nEXCEPTION WHEN duplicate_object THEN\n  RAISE NOTICE 'role %% exists: left as it is', %s;\nEND $splitschema$;\n",
			create, mustLiteral(r.Name))
	}
	for _, m := range g.Memberships {
		fmt.Fprintf(&b, "%s;\n", grantMembershipSQL(m, serverMajor))
	}
	for _, s := range g.Settings {
		if s.Role == "" || s.InDatabase {
			continue
		}
		sql, err := settingSQL(s, db)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s;\n", sql)
	}
	b.WriteString("\n-- Part 2: the database's grants and settings.\n")
	stmts, err := databaseSQL(g, db)
	if err != nil {
		return "", err
	}
	for _, s := range stmts {
		fmt.Fprintf(&b, "%s;\n", s)
	}
	return b.String(), nil
}

func mustLiteral(s string) string {
	l, err := quoteLiteral(s)
	if err != nil {
		return "''"
	}
	return l
}

func hasPasswords(g *archive.Globals) bool {
	for _, r := range g.Roles {
		if r.Password != "" {
			return true
		}
	}
	return false
}
