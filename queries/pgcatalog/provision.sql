-- name: AdminInfo :one
-- The connected role, its rights and the server it talks to.
SELECT current_user::text AS admin,
       r.rolsuper::bool AS rolsuper,
       r.rolcreaterole::bool AS rolcreaterole,
       r.rolcreatedb::bool AS rolcreatedb,
       current_setting('server_version_num')::int AS server_version,
       current_database()::text AS database,
       pg_get_userbyid(d.datdba)::text AS database_owner,
       pg_has_role(current_user, d.datdba, 'MEMBER')::bool AS owns_database,
       has_database_privilege(current_database(), 'CREATE')::bool AS can_create_schema
FROM pg_catalog.pg_roles AS r, pg_catalog.pg_database AS d
WHERE r.rolname = current_user AND d.datname = current_database();

-- name: Roles :many
-- Every role of the cluster but the predefined pg_* ones.
SELECT rolname::text AS name,
       rolsuper::bool AS rolsuper,
       rolinherit::bool AS rolinherit,
       rolcreaterole::bool AS rolcreaterole,
       rolcreatedb::bool AS rolcreatedb,
       rolcanlogin::bool AS rolcanlogin,
       rolreplication::bool AS rolreplication,
       rolbypassrls::bool AS rolbypassrls,
       rolvaliduntil,
       coalesce(pg_catalog.shobj_description(oid, 'pg_authid'), '')::text AS comment
FROM pg_catalog.pg_roles
WHERE rolname !~ '^pg_'
ORDER BY rolname;

-- name: RolePasswords :many
-- The stored password verifiers of the named roles; superusers only.
SELECT rolname::text AS name, rolpassword
FROM pg_catalog.pg_authid
WHERE rolname = ANY(@names::text[]);

-- name: Memberships :many
-- Every role membership that involves one of the named roles, either way,
-- with the role that granted it. From PostgreSQL 16 on, a member may hold a
-- role once per grantor, and REVOKE takes back only one grantor's grant.
SELECT r.rolname::text AS role, m.rolname::text AS member,
       coalesce(g.rolname, '')::text AS grantor, am.admin_option
FROM pg_catalog.pg_auth_members AS am
JOIN pg_catalog.pg_roles AS r ON r.oid = am.roleid
JOIN pg_catalog.pg_roles AS m ON m.oid = am.member
LEFT JOIN pg_catalog.pg_roles AS g ON g.oid = am.grantor
WHERE r.rolname = ANY(@names::text[]) OR m.rolname = ANY(@names::text[])
ORDER BY 1, 2, 3;

-- name: RoleSettings :many
-- Per-role settings of the named roles that apply to the current database:
-- in it (all_databases false) or everywhere (true). The ::text makes
-- "= ANY" a hash lookup (text = text hashes, name = text does not): without
-- it the filter is quadratic in the number of services.
SELECT r.rolname::text AS role,
       (s.setdatabase = 0)::bool AS all_databases,
       s.setconfig::text[] AS config
FROM pg_catalog.pg_db_role_setting AS s
JOIN pg_catalog.pg_roles AS r ON r.oid = s.setrole
WHERE r.rolname::text = ANY(@names::text[])
  AND s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()));

-- name: Schemas :many
-- Every schema but the system ones, with its owner.
SELECT n.nspname::text AS name, pg_get_userbyid(n.nspowner)::text AS owner
FROM pg_catalog.pg_namespace AS n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY n.nspname;

-- name: DatabasePrivileges :many
-- The privileges held on the current database.
SELECT CASE WHEN x.grantee = 0 THEN '' ELSE pg_get_userbyid(x.grantee) END::text AS grantee,
       x.privilege_type::text AS privilege,
       x.is_grantable::bool AS grantable
FROM pg_catalog.pg_database AS d,
     aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) AS x
WHERE d.datname = current_database();

-- name: SchemaPrivileges :many
-- The privileges held on the named schemas.
SELECT n.nspname::text AS schema_name,
       pg_get_userbyid(n.nspowner)::text AS owner,
       CASE WHEN x.grantee = 0 THEN '' ELSE pg_get_userbyid(x.grantee) END::text AS grantee,
       x.privilege_type::text AS privilege,
       x.is_grantable::bool AS grantable
FROM pg_catalog.pg_namespace AS n,
     aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS x
WHERE n.nspname = ANY(@schemas::text[]);

-- name: Relations :many
-- The tables, views, materialized views, foreign tables and sequences of the
-- named schemas (kind 'S' is a sequence).
SELECT n.nspname::text AS schema_name,
       c.relname::text AS name,
       c.relkind::text AS kind,
       pg_get_userbyid(c.relowner)::text AS owner
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(@schemas::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
ORDER BY 1, 2;

-- name: RelationPrivileges :many
-- The privileges held on the relations of the named schemas.
SELECT n.nspname::text AS schema_name,
       c.relname::text AS name,
       c.relkind::text AS kind,
       pg_get_userbyid(c.relowner)::text AS owner,
       CASE WHEN x.grantee = 0 THEN '' ELSE pg_get_userbyid(x.grantee) END::text AS grantee,
       x.privilege_type::text AS privilege,
       x.is_grantable::bool AS grantable
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace,
     aclexplode(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) AS x
WHERE n.nspname = ANY(@schemas::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S');

-- name: ColumnPrivileges :many
-- The column-level privileges held on the relations of the named schemas.
SELECT n.nspname::text AS schema_name,
       c.relname::text AS name,
       a.attname::text AS column_name,
       pg_get_userbyid(c.relowner)::text AS owner,
       CASE WHEN x.grantee = 0 THEN '' ELSE pg_get_userbyid(x.grantee) END::text AS grantee,
       x.privilege_type::text AS privilege,
       x.is_grantable::bool AS grantable
FROM pg_catalog.pg_attribute AS a
JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace,
     aclexplode(a.attacl) AS x
WHERE n.nspname = ANY(@schemas::text[])
  AND a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped;

-- name: RoutinePrivileges :many
-- The privileges held on the functions, procedures and aggregates of the
-- named schemas; name is the routine's signature.
SELECT n.nspname::text AS schema_name,
       p.oid::regprocedure::text AS name,
       pg_get_userbyid(p.proowner)::text AS owner,
       CASE WHEN x.grantee = 0 THEN '' ELSE pg_get_userbyid(x.grantee) END::text AS grantee,
       x.privilege_type::text AS privilege,
       x.is_grantable::bool AS grantable
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace,
     aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS x
WHERE n.nspname = ANY(@schemas::text[]);

-- name: TypePrivileges :many
-- The privileges held on the types of the named schemas that carry their own
-- privileges: domains, enums, ranges, multiranges and standalone composite
-- types (not a table's row type, nor an array type).
SELECT n.nspname::text AS schema_name,
       t.typname::text AS name,
       pg_get_userbyid(t.typowner)::text AS owner,
       CASE WHEN x.grantee = 0 THEN '' ELSE pg_get_userbyid(x.grantee) END::text AS grantee,
       x.privilege_type::text AS privilege,
       x.is_grantable::bool AS grantable
FROM pg_catalog.pg_type AS t
JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class AS c ON c.oid = t.typrelid,
     aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) AS x
WHERE n.nspname = ANY(@schemas::text[])
  AND (t.typtype IN ('d', 'e', 'r', 'm') OR (t.typtype = 'c' AND c.relkind = 'c'));

-- name: DefaultPrivileges :many
-- The default privileges (ALTER DEFAULT PRIVILEGES) the named roles set, in
-- a schema or, schema '', everywhere. kind is r (tables), S (sequences),
-- f (functions), T (types) or n (schemas). ::text: see RoleSettings.
SELECT pg_get_userbyid(d.defaclrole)::text AS role,
       coalesce(n.nspname, '')::text AS schema_name,
       d.defaclobjtype::text AS kind,
       CASE WHEN x.grantee = 0 THEN '' ELSE pg_get_userbyid(x.grantee) END::text AS grantee,
       x.privilege_type::text AS privilege,
       x.is_grantable::bool AS grantable
FROM pg_catalog.pg_default_acl AS d
LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = d.defaclnamespace,
     aclexplode(d.defaclacl) AS x
WHERE pg_get_userbyid(d.defaclrole)::text = ANY(@roles::text[]);

-- name: DefaultPrivilegeEntries :many
-- Which (role, schema, kind) entries exist, even with an empty ACL; schema ''
-- is the role's global entry. ::text: see RoleSettings.
SELECT pg_get_userbyid(d.defaclrole)::text AS role,
       coalesce(n.nspname, '')::text AS schema_name,
       d.defaclobjtype::text AS kind
FROM pg_catalog.pg_default_acl AS d
LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = d.defaclnamespace
WHERE pg_get_userbyid(d.defaclrole)::text = ANY(@roles::text[]);

-- name: Columns :many
-- The columns of the named tables in the named schemas (a superset: every
-- pair of schema and table is read).
SELECT n.nspname::text AS schema_name, c.relname::text AS table_name, a.attname::text AS column_name
FROM pg_catalog.pg_attribute AS a
JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(@schemas::text[]) AND c.relname = ANY(@tables::text[])
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1, 2, a.attnum;

-- name: Toolkit :one
-- What of the toolkit schema and the guard function exists.
SELECT (to_regnamespace('splitschema') IS NOT NULL)::bool AS has_schema,
       coalesce(pg_get_userbyid((SELECT nspowner FROM pg_catalog.pg_namespace WHERE nspname = 'splitschema')), '')::text AS schema_owner,
       (to_regclass('splitschema.service') IS NOT NULL)::bool AS has_table,
       coalesce((SELECT p.prosrc FROM pg_catalog.pg_proc AS p
                 WHERE p.oid = to_regprocedure('splitschema.guard()')), '')::text AS guard_source;

-- name: GuardTriggers :many
-- The event triggers named splitschema_*: the event each fires on, its
-- evtenabled, whether it runs splitschema.guard(), and its tag filter.
SELECT e.evtname::text AS name,
       e.evtevent::text AS event,
       e.evtenabled::text AS enabled,
       coalesce(e.evtfoid = to_regprocedure('splitschema.guard()'), false)::bool AS calls_guard,
       coalesce(e.evttags, '{}')::text[] AS tags
FROM pg_catalog.pg_event_trigger AS e
WHERE e.evtname LIKE 'splitschema\_%'
ORDER BY 1;

-- name: GuardedServices :many
-- The services the guard knows, by schema; only when the toolkit table exists.
SELECT schema_name, service, owner_role, app_role
FROM splitschema.service
ORDER BY schema_name;

-- name: TablesOf :many
-- The ordinary and partitioned tables of the named schemas (for counting
-- the tables and rows of undeclared schemas), and whether the connected role
-- may read them.
SELECT n.nspname::text AS schema_name, c.relname::text AS name,
       has_table_privilege(c.oid, 'SELECT')::bool AS readable
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(@schemas::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY 1, 2;

-- name: AdminMemberOf :many
-- The named roles the connected role is a member of, directly or not:
-- can_set, it may SET ROLE to it (from PostgreSQL 16 on a grant may
-- withhold that: WITH SET FALSE); admin, it holds the ADMIN option on it,
-- which from 16 on a CREATEROLE role needs to grant, revoke or alter it.
SELECT rolname::text AS name,
       pg_has_role(current_user, oid,
                   CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END)::bool AS can_set,
       pg_has_role(current_user, oid, 'MEMBER WITH ADMIN OPTION')::bool AS admin
FROM pg_catalog.pg_roles
WHERE rolname = ANY(@names::text[]) AND pg_has_role(current_user, oid, 'MEMBER');

-- name: Extensions :many
-- The extensions installed in the connected database, with their schema.
SELECT e.extname::text AS name, n.nspname::text AS schema_name
FROM pg_catalog.pg_extension AS e
JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
ORDER BY e.extname;

-- name: RefreshFunctionSource :one
-- The body of splitschema.refresh_materialized_view(regclass, boolean), ''
-- when it is missing.
SELECT coalesce((SELECT p.prosrc FROM pg_catalog.pg_proc AS p
                 WHERE p.oid = to_regprocedure('splitschema.refresh_materialized_view(regclass, boolean)')), '')::text AS source;

-- name: PublicExecutes :many
-- Which of the named functions (as to_regprocedure reads them; those this
-- server lacks are skipped) PUBLIC may execute in the current database.
SELECT u.name::text AS function
FROM unnest(@functions::text[]) AS u(name)
WHERE to_regprocedure(u.name) IS NOT NULL
  AND has_function_privilege('public', to_regprocedure(u.name), 'EXECUTE')
ORDER BY 1;

-- name: PublicConnects :many
-- Which of the named databases PUBLIC may connect to.
SELECT d.datname::text AS name
FROM pg_catalog.pg_database AS d
WHERE d.datname = ANY(@names::text[]) AND has_database_privilege('public', d.oid, 'CONNECT')
ORDER BY 1;
