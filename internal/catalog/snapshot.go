package catalog

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/splitschema/splitschema/gen/pgcatalog"
)

// Snapshot is what ReadCluster and ReadObjects found. The maps are never nil.
type Snapshot struct {
	Admin Admin
	// Roles holds every role but the predefined pg_* ones, by name.
	Roles map[string]*Role
	// Schemas maps every non-system schema to its owner.
	Schemas map[string]string
	Toolkit Toolkit
	// Guarded is splitschema.service, empty when the table is missing.
	Guarded []Guarded
	// PublicConnects lists the MaintenanceDatabases PUBLIC may connect to.
	PublicConnects []string

	// The rest is filled by ReadObjects.

	// Memberships involving Scope.Roles, either way.
	Memberships []Membership
	// Settings maps a role of Scope.Roles to its settings ("name=value")
	// that apply in this database only (ALTER ROLE ... IN DATABASE).
	Settings map[string][]string
	// GlobalSettings maps a role of Scope.Roles to its settings for every
	// database (ALTER ROLE ... SET without IN DATABASE).
	GlobalSettings map[string][]string
	// Database is the privileges held on the connected database.
	Database []Grant
	// ACLs holds the privileges of every schema in Scope.Schemas and of
	// every relation, column, routine and type in them.
	ACLs map[Object]*ACL
	// Relations lists the relations of Scope.Schemas, by schema.
	Relations map[string][]Relation
	// Defaults holds the default-privilege entries of Scope.Roles; an
	// entry that exists with no grant maps to an empty slice.
	Defaults map[DefaultKey][]Grant
	// Columns maps "schema.table" to the table's columns in order, for the
	// tables of Scope.Tables.
	Columns map[string][]string
	// AdminMemberOf holds the roles of Scope.Roles the admin is a member
	// of and may SET ROLE to (from PostgreSQL 16 on a membership may
	// withhold that).
	AdminMemberOf map[string]bool
	// AdminOptionOn holds the roles of Scope.Roles, and those granted to
	// them, that the admin holds the
	// ADMIN option on: what a CREATEROLE admin needs from PostgreSQL 16 on
	// to grant, revoke or alter a role.
	AdminOptionOn map[string]bool
	// Verifiers maps a role of Scope.Roles to its stored password verifier
	// ("" when it has none); nil unless the admin is a superuser.
	Verifiers map[string]string
	// Extensions maps each extension installed in the database to its schema.
	Extensions map[string]string
	// PublicExecutes lists the LargeObjectCreators PUBLIC may execute in
	// the database.
	PublicExecutes []string
}

// Scope says what ReadObjects reads.
type Scope struct {
	// Schemas whose objects' privileges are read.
	Schemas []string
	// Roles whose memberships, settings, default privileges and password
	// verifiers are read.
	Roles []string
	// Tables, as "schema.table", whose columns are read.
	Tables []string
}

// ReadCluster reads the admin, the roles, the schemas and the toolkit state:
// what every plan needs before it knows which objects to look at.
func ReadCluster(ctx context.Context, db pgcatalog.DBTX) (*Snapshot, error) {
	q := pgcatalog.New(db)
	s := &Snapshot{
		Roles:          map[string]*Role{},
		Schemas:        map[string]string{},
		Settings:       map[string][]string{},
		GlobalSettings: map[string][]string{},
		ACLs:           map[Object]*ACL{},
		Relations:      map[string][]Relation{},
		Defaults:       map[DefaultKey][]Grant{},
		Columns:        map[string][]string{},

		AdminMemberOf: map[string]bool{},
		AdminOptionOn: map[string]bool{},
		Extensions:    map[string]string{},
	}
	a, err := q.AdminInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("read admin role: %w", err)
	}
	s.Admin = Admin{
		Name: a.Admin, Superuser: a.Rolsuper, CreateRole: a.Rolcreaterole, CreateDB: a.Rolcreatedb,
		ServerVersion: int(a.ServerVersion), Database: a.Database, DatabaseOwner: a.DatabaseOwner,
		OwnsDatabase: a.OwnsDatabase, CanCreateSchema: a.CanCreateSchema,
	}
	roles, err := q.Roles(ctx)
	if err != nil {
		return nil, fmt.Errorf("read roles: %w", err)
	}
	for _, r := range roles {
		s.Roles[r.Name] = &Role{
			Name: r.Name, Superuser: r.Rolsuper, Inherit: r.Rolinherit, CreateRole: r.Rolcreaterole,
			CreateDB: r.Rolcreatedb, Login: r.Rolcanlogin, Replication: r.Rolreplication,
			BypassRLS: r.Rolbypassrls, ValidUntil: validUntil(r.Rolvaliduntil),
			Comment: r.Comment,
		}
	}
	schemas, err := q.Schemas(ctx)
	if err != nil {
		return nil, fmt.Errorf("read schemas: %w", err)
	}
	for _, n := range schemas {
		s.Schemas[n.Name] = n.Owner
	}
	tk, err := q.Toolkit(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the guard: %w", err)
	}
	s.Toolkit = Toolkit{
		HasSchema: tk.HasSchema, SchemaOwner: tk.SchemaOwner, HasTable: tk.HasTable,
		GuardSource: tk.GuardSource, Triggers: map[string]EventTrigger{},
	}
	if s.Toolkit.RefreshSource, err = q.RefreshFunctionSource(ctx); err != nil {
		return nil, fmt.Errorf("read the refresh function: %w", err)
	}
	triggers, err := q.GuardTriggers(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the guard's event triggers: %w", err)
	}
	for _, t := range triggers {
		s.Toolkit.Triggers[t.Name] = EventTrigger{Event: t.Event, Enabled: t.Enabled, CallsGuard: t.CallsGuard, Tags: t.Tags}
	}
	if s.PublicConnects, err = q.PublicConnects(ctx, MaintenanceDatabases); err != nil {
		return nil, fmt.Errorf("read CONNECT on the maintenance databases: %w", err)
	}
	if tk.HasTable {
		rows, err := q.GuardedServices(ctx)
		if err != nil {
			return nil, fmt.Errorf("read splitschema.service: %w", err)
		}
		for _, r := range rows {
			s.Guarded = append(s.Guarded, Guarded{Schema: r.SchemaName, Service: r.Service, OwnerRole: r.OwnerRole, AppRole: r.AppRole})
		}
	}
	return s, nil
}

func validUntil(t pgtype.Timestamptz) *time.Time {
	if !t.Valid || t.InfinityModifier == pgtype.Infinity {
		return nil
	}
	if t.InfinityModifier == pgtype.NegativeInfinity {
		past := time.Time{}
		return &past
	}
	v := t.Time
	return &v
}

// ReadObjects reads the memberships, settings, privileges, default
// privileges, columns and (as a superuser) password verifiers of scope.
func (s *Snapshot) ReadObjects(ctx context.Context, db pgcatalog.DBTX, scope Scope) error {
	q := pgcatalog.New(db)
	members, err := q.Memberships(ctx, scope.Roles)
	if err != nil {
		return fmt.Errorf("read role memberships: %w", err)
	}
	for _, m := range members {
		s.Memberships = append(s.Memberships, Membership{Role: m.Role, Member: m.Member, Grantor: m.Grantor, AdminOption: m.AdminOption})
	}
	settings, err := q.RoleSettings(ctx, scope.Roles)
	if err != nil {
		return fmt.Errorf("read role settings: %w", err)
	}
	for _, r := range settings {
		if r.AllDatabases {
			s.GlobalSettings[r.Role] = append(s.GlobalSettings[r.Role], r.Config...)
		} else {
			s.Settings[r.Role] = append(s.Settings[r.Role], r.Config...)
		}
	}
	dbp, err := q.DatabasePrivileges(ctx)
	if err != nil {
		return fmt.Errorf("read database privileges: %w", err)
	}
	for _, g := range dbp {
		s.Database = append(s.Database, Grant{Grantee: g.Grantee, Privilege: g.Privilege, Grantable: g.Grantable})
	}
	if err := s.readACLs(ctx, q, scope.Schemas); err != nil {
		return err
	}
	if err := s.readDefaults(ctx, q, scope.Roles); err != nil {
		return err
	}
	if err := s.readColumns(ctx, q, scope.Tables); err != nil {
		return err
	}
	exts, err := q.Extensions(ctx)
	if err != nil {
		return fmt.Errorf("read extensions: %w", err)
	}
	for _, e := range exts {
		s.Extensions[e.Name] = e.SchemaName
	}
	if s.PublicExecutes, err = q.PublicExecutes(ctx, LargeObjectCreators); err != nil {
		return fmt.Errorf("read EXECUTE on the large object functions: %w", err)
	}
	// The roles granted to service roles too: revoking them needs the
	// ADMIN option on them.
	names := slices.Clone(scope.Roles)
	seen := make(map[string]bool, len(names))
	for _, r := range names {
		seen[r] = true
	}
	for _, m := range s.Memberships {
		if !seen[m.Role] {
			seen[m.Role] = true
			names = append(names, m.Role)
		}
	}
	mine, err := q.AdminMemberOf(ctx, names)
	if err != nil {
		return fmt.Errorf("read the admin's memberships: %w", err)
	}
	for _, r := range mine {
		if r.CanSet {
			s.AdminMemberOf[r.Name] = true
		}
		if r.Admin {
			s.AdminOptionOn[r.Name] = true
		}
	}
	if s.Admin.Superuser && len(scope.Roles) > 0 {
		pws, err := q.RolePasswords(ctx, scope.Roles)
		if err != nil {
			return fmt.Errorf("read password verifiers: %w", err)
		}
		s.Verifiers = map[string]string{}
		for _, p := range pws {
			s.Verifiers[p.Name] = p.Rolpassword.String
		}
	}
	return nil
}

// Objects lists the objects of ACLs in a stable order: by schema, kind,
// name and column.
func (s *Snapshot) Objects() []Object {
	out := slices.Collect(maps.Keys(s.ACLs))
	slices.SortFunc(out, func(a, b Object) int {
		return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.Column, b.Column))
	})
	return out
}

func (s *Snapshot) acl(o Object, owner string) *ACL {
	a := s.ACLs[o]
	if a == nil {
		a = &ACL{Owner: owner}
		s.ACLs[o] = a
	}
	return a
}

func (s *Snapshot) readACLs(ctx context.Context, q *pgcatalog.Queries, schemas []string) error {
	sp, err := q.SchemaPrivileges(ctx, schemas)
	if err != nil {
		return fmt.Errorf("read schema privileges: %w", err)
	}
	for _, r := range sp {
		a := s.acl(Object{Kind: KindSchema, Schema: r.SchemaName}, r.Owner)
		a.Grants = append(a.Grants, Grant{r.Grantee, r.Privilege, r.Grantable})
	}
	rels, err := q.Relations(ctx, schemas)
	if err != nil {
		return fmt.Errorf("read relations: %w", err)
	}
	for _, r := range rels {
		s.Relations[r.SchemaName] = append(s.Relations[r.SchemaName], Relation{Schema: r.SchemaName, Name: r.Name, RelKind: r.Kind, Owner: r.Owner})
		s.acl(Object{Kind: relKind(r.Kind), Schema: r.SchemaName, Name: r.Name}, r.Owner)
	}
	rp, err := q.RelationPrivileges(ctx, schemas)
	if err != nil {
		return fmt.Errorf("read table privileges: %w", err)
	}
	for _, r := range rp {
		a := s.acl(Object{Kind: relKind(r.Kind), Schema: r.SchemaName, Name: r.Name}, r.Owner)
		a.Grants = append(a.Grants, Grant{r.Grantee, r.Privilege, r.Grantable})
	}
	cp, err := q.ColumnPrivileges(ctx, schemas)
	if err != nil {
		return fmt.Errorf("read column privileges: %w", err)
	}
	for _, r := range cp {
		a := s.acl(Object{Kind: KindColumn, Schema: r.SchemaName, Name: r.Name, Column: r.ColumnName}, r.Owner)
		a.Grants = append(a.Grants, Grant{r.Grantee, r.Privilege, r.Grantable})
	}
	fp, err := q.RoutinePrivileges(ctx, schemas)
	if err != nil {
		return fmt.Errorf("read routine privileges: %w", err)
	}
	for _, r := range fp {
		a := s.acl(Object{Kind: KindRoutine, Schema: r.SchemaName, Name: r.Name}, r.Owner)
		a.Grants = append(a.Grants, Grant{r.Grantee, r.Privilege, r.Grantable})
	}
	tp, err := q.TypePrivileges(ctx, schemas)
	if err != nil {
		return fmt.Errorf("read type privileges: %w", err)
	}
	for _, r := range tp {
		a := s.acl(Object{Kind: KindType, Schema: r.SchemaName, Name: r.Name}, r.Owner)
		a.Grants = append(a.Grants, Grant{r.Grantee, r.Privilege, r.Grantable})
	}
	return nil
}

func relKind(relkind string) Kind {
	if relkind == "S" {
		return KindSequence
	}
	return KindTable
}

func (s *Snapshot) readDefaults(ctx context.Context, q *pgcatalog.Queries, roles []string) error {
	entries, err := q.DefaultPrivilegeEntries(ctx, roles)
	if err != nil {
		return fmt.Errorf("read default privileges: %w", err)
	}
	for _, e := range entries {
		s.Defaults[DefaultKey{Role: e.Role, Schema: e.SchemaName, Kind: e.Kind}] = []Grant{}
	}
	rows, err := q.DefaultPrivileges(ctx, roles)
	if err != nil {
		return fmt.Errorf("read default privileges: %w", err)
	}
	for _, r := range rows {
		k := DefaultKey{Role: r.Role, Schema: r.SchemaName, Kind: r.Kind}
		s.Defaults[k] = append(s.Defaults[k], Grant{r.Grantee, r.Privilege, r.Grantable})
	}
	return nil
}

func (s *Snapshot) readColumns(ctx context.Context, q *pgcatalog.Queries, tables []string) error {
	if len(tables) == 0 {
		return nil
	}
	var schemas, names []string
	want := map[string]bool{}
	for _, t := range tables {
		schema, name, _ := strings.Cut(t, ".")
		schemas, names = append(schemas, schema), append(names, name)
		want[t] = true
	}
	slices.Sort(schemas)
	rows, err := q.Columns(ctx, pgcatalog.ColumnsParams{Schemas: slices.Compact(schemas), Tables: names})
	if err != nil {
		return fmt.Errorf("read columns: %w", err)
	}
	for _, r := range rows {
		if k := r.SchemaName + "." + r.TableName; want[k] {
			s.Columns[k] = append(s.Columns[k], r.ColumnName)
		}
	}
	return nil
}
