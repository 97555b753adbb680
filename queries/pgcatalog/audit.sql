-- name: AuditRelationPrivileges :many
-- Every table-level privilege the named roles hold, directly, through a
-- membership or through PUBLIC, on the relations of the named schemas.
-- From PostgreSQL 17 on that includes MAINTAIN (VACUUM, ANALYZE, REINDEX,
-- CLUSTER, REFRESH and LOCK TABLE in any mode), which older servers do not
-- know: has_table_privilege would fail on it.
SELECT r.rolname::text AS role,
       n.nspname::text AS schema_name,
       c.relname::text AS name,
       c.relkind::text AS kind,
       p.priv::text AS privilege
FROM pg_catalog.pg_roles AS r
CROSS JOIN pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']::text[] ||
                  CASE WHEN current_setting('server_version_num')::int >= 170000
                       THEN ARRAY['MAINTAIN']::text[] ELSE ARRAY[]::text[] END) AS p(priv)
WHERE r.rolname = ANY(@roles::text[])
  AND n.nspname = ANY(@schemas::text[])
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND has_table_privilege(r.oid, c.oid, p.priv)
ORDER BY 1, 2, 3, 5;

-- name: AuditColumnPrivileges :many
-- Column-level privileges the named roles hold on the relations of the named
-- schemas where they do not hold the same privilege on the whole table.
SELECT r.rolname::text AS role,
       n.nspname::text AS schema_name,
       c.relname::text AS name,
       a.attname::text AS column_name,
       p.priv::text AS privilege
FROM pg_catalog.pg_roles AS r
CROSS JOIN pg_catalog.pg_attribute AS a
JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']::text[]) AS p(priv)
WHERE r.rolname = ANY(@roles::text[])
  AND n.nspname = ANY(@schemas::text[])
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND a.attnum > 0 AND NOT a.attisdropped
  AND has_column_privilege(r.oid, c.oid, a.attnum, p.priv)
  AND NOT has_table_privilege(r.oid, c.oid, p.priv)
ORDER BY 1, 2, 3, 4, 5;

-- name: AuditSequencePrivileges :many
-- Privileges the named roles hold on the sequences of the named schemas.
SELECT r.rolname::text AS role,
       n.nspname::text AS schema_name,
       c.relname::text AS name,
       p.priv::text AS privilege
FROM pg_catalog.pg_roles AS r
CROSS JOIN pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']::text[]) AS p(priv)
WHERE r.rolname = ANY(@roles::text[])
  AND n.nspname = ANY(@schemas::text[])
  AND c.relkind = 'S'
  AND has_sequence_privilege(r.oid, c.oid, p.priv)
ORDER BY 1, 2, 3, 4;

-- name: AuditSchemaPrivileges :many
-- USAGE and CREATE the named roles hold on the named schemas.
SELECT r.rolname::text AS role,
       n.nspname::text AS schema_name,
       p.priv::text AS privilege
FROM pg_catalog.pg_roles AS r
CROSS JOIN pg_catalog.pg_namespace AS n
CROSS JOIN unnest(ARRAY['USAGE', 'CREATE']::text[]) AS p(priv)
WHERE r.rolname = ANY(@roles::text[])
  AND n.nspname = ANY(@schemas::text[])
  AND has_schema_privilege(r.oid, n.oid, p.priv)
ORDER BY 1, 2, 3;

-- name: AuditRoutinePrivileges :many
-- The routines of the named schemas the named roles may execute.
SELECT r.rolname::text AS role,
       n.nspname::text AS schema_name,
       f.oid::regprocedure::text AS name
FROM pg_catalog.pg_roles AS r
CROSS JOIN pg_catalog.pg_proc AS f
JOIN pg_catalog.pg_namespace AS n ON n.oid = f.pronamespace
WHERE r.rolname = ANY(@roles::text[])
  AND n.nspname = ANY(@schemas::text[])
  AND has_function_privilege(r.oid, f.oid, 'EXECUTE')
ORDER BY 1, 2, 3;

-- name: AuditTypePrivileges :many
-- The types of the named schemas (those with privileges of their own) the
-- named roles may use.
SELECT r.rolname::text AS role,
       n.nspname::text AS schema_name,
       t.typname::text AS name
FROM pg_catalog.pg_roles AS r
CROSS JOIN pg_catalog.pg_type AS t
JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class AS c ON c.oid = t.typrelid
WHERE r.rolname = ANY(@roles::text[])
  AND n.nspname = ANY(@schemas::text[])
  AND (t.typtype IN ('d', 'e', 'r', 'm') OR (t.typtype = 'c' AND c.relkind = 'c'))
  AND has_type_privilege(r.oid, t.oid, 'USAGE')
ORDER BY 1, 2, 3;

-- name: AuditDatabasePrivileges :many
-- The privileges the named roles hold on the current database.
SELECT r.rolname::text AS role, p.priv::text AS privilege
FROM pg_catalog.pg_roles AS r
CROSS JOIN unnest(ARRAY['CONNECT', 'CREATE', 'TEMPORARY']::text[]) AS p(priv)
WHERE r.rolname = ANY(@roles::text[])
  AND has_database_privilege(r.oid, current_database(), p.priv)
ORDER BY 1, 2;

-- name: AuditMemberships :many
-- The roles each named role is a member of, directly or not.
SELECT r.rolname::text AS role, o.rolname::text AS member_of
FROM pg_catalog.pg_roles AS r
CROSS JOIN pg_catalog.pg_roles AS o
WHERE r.rolname = ANY(@roles::text[])
  AND o.oid <> r.oid
  AND pg_has_role(r.oid, o.oid, 'MEMBER')
ORDER BY 1, 2;

-- name: AuditForeignKeys :many
-- Every foreign key between two different schemas, with its columns and its
-- ON DELETE and ON UPDATE actions (pg_constraint's a, r, c, n or d).
SELECT k.conname::text AS name,
       fn.nspname::text AS from_schema,
       fc.relname::text AS from_table,
       tn.nspname::text AS to_schema,
       tc.relname::text AS to_table,
       ARRAY(SELECT a.attname::text FROM unnest(k.confkey) AS u(attnum)
             JOIN pg_catalog.pg_attribute AS a ON a.attrelid = k.confrelid AND a.attnum = u.attnum)::text[] AS to_columns,
       k.convalidated::bool AS validated,
       k.confdeltype::text AS on_delete,
       k.confupdtype::text AS on_update
FROM pg_catalog.pg_constraint AS k
JOIN pg_catalog.pg_class AS fc ON fc.oid = k.conrelid
JOIN pg_catalog.pg_namespace AS fn ON fn.oid = fc.relnamespace
JOIN pg_catalog.pg_class AS tc ON tc.oid = k.confrelid
JOIN pg_catalog.pg_namespace AS tn ON tn.oid = tc.relnamespace
WHERE k.contype = 'f' AND fn.oid <> tn.oid
ORDER BY 2, 3, 1;

-- name: AuditDependencies :many
-- Dependencies on objects of the named schemas from objects of any other
-- schema, other than foreign keys and the internal parts of objects: a view
-- over another schema's table, a column of another schema's type, a default
-- calling another schema's function. to_kind is relation, type, routine or
-- other; to_table and to_column name a relation's column depended on;
-- from_relation is the relation (view, table) the dependant belongs to, ''
-- when none, so that findings can be grouped per object.
WITH svc AS (
    SELECT n.oid FROM pg_catalog.pg_namespace AS n WHERE n.nspname = ANY(@schemas::text[])
), targets AS (
    SELECT 'pg_catalog.pg_class'::regclass::oid AS classid, c.oid AS objid, c.relnamespace AS nsp
    FROM pg_catalog.pg_class AS c WHERE c.relnamespace IN (SELECT oid FROM svc)
    UNION ALL
    SELECT 'pg_catalog.pg_type'::regclass::oid, t.oid, t.typnamespace
    FROM pg_catalog.pg_type AS t WHERE t.typnamespace IN (SELECT oid FROM svc)
    UNION ALL
    SELECT 'pg_catalog.pg_proc'::regclass::oid, f.oid, f.pronamespace
    FROM pg_catalog.pg_proc AS f WHERE f.pronamespace IN (SELECT oid FROM svc)
    UNION ALL
    SELECT 'pg_catalog.pg_collation'::regclass::oid, o.oid, o.collnamespace
    FROM pg_catalog.pg_collation AS o WHERE o.collnamespace IN (SELECT oid FROM svc)
    UNION ALL
    SELECT 'pg_catalog.pg_operator'::regclass::oid, o.oid, o.oprnamespace
    FROM pg_catalog.pg_operator AS o WHERE o.oprnamespace IN (SELECT oid FROM svc)
), deps AS (
    SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid, d.refobjsubid, t.nsp AS to_nsp,
           CASE d.classid
               WHEN 'pg_catalog.pg_class'::regclass::oid THEN (SELECT c.relnamespace FROM pg_catalog.pg_class AS c WHERE c.oid = d.objid)
               WHEN 'pg_catalog.pg_type'::regclass::oid THEN (SELECT y.typnamespace FROM pg_catalog.pg_type AS y WHERE y.oid = d.objid)
               WHEN 'pg_catalog.pg_proc'::regclass::oid THEN (SELECT f.pronamespace FROM pg_catalog.pg_proc AS f WHERE f.oid = d.objid)
               WHEN 'pg_catalog.pg_constraint'::regclass::oid THEN (SELECT k.connamespace FROM pg_catalog.pg_constraint AS k WHERE k.oid = d.objid AND k.contype <> 'f')
               WHEN 'pg_catalog.pg_operator'::regclass::oid THEN (SELECT o.oprnamespace FROM pg_catalog.pg_operator AS o WHERE o.oid = d.objid)
               WHEN 'pg_catalog.pg_collation'::regclass::oid THEN (SELECT o.collnamespace FROM pg_catalog.pg_collation AS o WHERE o.oid = d.objid)
               WHEN 'pg_catalog.pg_statistic_ext'::regclass::oid THEN (SELECT x.stxnamespace FROM pg_catalog.pg_statistic_ext AS x WHERE x.oid = d.objid)
               WHEN 'pg_catalog.pg_rewrite'::regclass::oid THEN (SELECT c.relnamespace FROM pg_catalog.pg_rewrite AS r
                   JOIN pg_catalog.pg_class AS c ON c.oid = r.ev_class WHERE r.oid = d.objid)
               WHEN 'pg_catalog.pg_attrdef'::regclass::oid THEN (SELECT c.relnamespace FROM pg_catalog.pg_attrdef AS a
                   JOIN pg_catalog.pg_class AS c ON c.oid = a.adrelid WHERE a.oid = d.objid)
               WHEN 'pg_catalog.pg_trigger'::regclass::oid THEN (SELECT c.relnamespace FROM pg_catalog.pg_trigger AS g
                   JOIN pg_catalog.pg_class AS c ON c.oid = g.tgrelid WHERE g.oid = d.objid AND NOT g.tgisinternal)
               WHEN 'pg_catalog.pg_policy'::regclass::oid THEN (SELECT c.relnamespace FROM pg_catalog.pg_policy AS p
                   JOIN pg_catalog.pg_class AS c ON c.oid = p.polrelid WHERE p.oid = d.objid)
           END AS from_nsp,
           CASE d.classid
               WHEN 'pg_catalog.pg_class'::regclass::oid THEN d.objid
               WHEN 'pg_catalog.pg_rewrite'::regclass::oid THEN (SELECT r.ev_class FROM pg_catalog.pg_rewrite AS r WHERE r.oid = d.objid)
               WHEN 'pg_catalog.pg_attrdef'::regclass::oid THEN (SELECT a.adrelid FROM pg_catalog.pg_attrdef AS a WHERE a.oid = d.objid)
               WHEN 'pg_catalog.pg_trigger'::regclass::oid THEN (SELECT g.tgrelid FROM pg_catalog.pg_trigger AS g WHERE g.oid = d.objid)
               WHEN 'pg_catalog.pg_policy'::regclass::oid THEN (SELECT p.polrelid FROM pg_catalog.pg_policy AS p WHERE p.oid = d.objid)
               WHEN 'pg_catalog.pg_constraint'::regclass::oid THEN (SELECT k.conrelid FROM pg_catalog.pg_constraint AS k WHERE k.oid = d.objid)
           END AS from_rel
    FROM pg_catalog.pg_depend AS d
    JOIN targets AS t ON t.classid = d.refclassid AND t.objid = d.refobjid
    WHERE d.deptype IN ('n', 'a')
)
SELECT DISTINCT fn.nspname::text AS from_schema,
       pg_describe_object(deps.classid, deps.objid, deps.objsubid)::text AS from_object,
       tn.nspname::text AS to_schema,
       pg_describe_object(deps.refclassid, deps.refobjid, deps.refobjsubid)::text AS to_object,
       coalesce((SELECT pg_describe_object('pg_catalog.pg_class'::regclass::oid, deps.from_rel, 0)
                 WHERE deps.from_rel IS NOT NULL AND deps.from_rel <> 0), '')::text AS from_relation,
       (CASE deps.refclassid
            WHEN 'pg_catalog.pg_class'::regclass::oid THEN 'relation'
            WHEN 'pg_catalog.pg_type'::regclass::oid THEN 'type'
            WHEN 'pg_catalog.pg_proc'::regclass::oid THEN 'routine'
            ELSE 'other' END)::text AS to_kind,
       coalesce((SELECT c.relname FROM pg_catalog.pg_class AS c
                 WHERE deps.refclassid = 'pg_catalog.pg_class'::regclass::oid AND c.oid = deps.refobjid), '')::text AS to_table,
       coalesce((SELECT a.attname FROM pg_catalog.pg_attribute AS a
                 WHERE deps.refclassid = 'pg_catalog.pg_class'::regclass::oid AND a.attrelid = deps.refobjid
                   AND a.attnum = deps.refobjsubid AND deps.refobjsubid > 0), '')::text AS to_column
FROM deps
JOIN pg_catalog.pg_namespace AS fn ON fn.oid = deps.from_nsp
JOIN pg_catalog.pg_namespace AS tn ON tn.oid = deps.to_nsp
WHERE deps.from_nsp <> deps.to_nsp
ORDER BY 1, 2, 3, 4;

-- name: AuditOwners :many
-- The objects of the named schemas with their owners: kind is the word
-- ALTER ... OWNER TO takes for it, name the object as that statement takes
-- it. Relations (not indexes, which follow their table), routines, types and
-- domains (not the row types of relations, nor array types, which follow
-- their element), collations, conversions, operators and their classes and
-- families, statistics objects, text search configurations and dictionaries.
WITH objects AS (
    SELECT c.relnamespace AS nsp, c.relowner AS owner,
           CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                          WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END AS kind,
           format('%I.%I', n.nspname, c.relname) AS name
    FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'c')
    UNION ALL
    SELECT f.pronamespace, f.proowner,
           CASE f.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
           f.oid::regprocedure::text
    FROM pg_catalog.pg_proc AS f
    UNION ALL
    SELECT t.typnamespace, t.typowner, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
           format('%I.%I', n.nspname, t.typname)
    FROM pg_catalog.pg_type AS t JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
    WHERE t.typrelid = 0 AND NOT EXISTS (SELECT FROM pg_catalog.pg_type AS e WHERE e.typarray = t.oid)
    UNION ALL
    SELECT o.collnamespace, o.collowner, 'COLLATION', format('%I.%I', n.nspname, o.collname)
    FROM pg_catalog.pg_collation AS o JOIN pg_catalog.pg_namespace AS n ON n.oid = o.collnamespace
    UNION ALL
    SELECT o.connamespace, o.conowner, 'CONVERSION', format('%I.%I', n.nspname, o.conname)
    FROM pg_catalog.pg_conversion AS o JOIN pg_catalog.pg_namespace AS n ON n.oid = o.connamespace
    UNION ALL
    SELECT o.oprnamespace, o.oprowner, 'OPERATOR', o.oid::regoperator::text
    FROM pg_catalog.pg_operator AS o
    UNION ALL
    SELECT o.opcnamespace, o.opcowner, 'OPERATOR CLASS',
           format('%I.%I USING %I', n.nspname, o.opcname, (SELECT m.amname FROM pg_catalog.pg_am AS m WHERE m.oid = o.opcmethod))
    FROM pg_catalog.pg_opclass AS o JOIN pg_catalog.pg_namespace AS n ON n.oid = o.opcnamespace
    UNION ALL
    SELECT o.opfnamespace, o.opfowner, 'OPERATOR FAMILY',
           format('%I.%I USING %I', n.nspname, o.opfname, (SELECT m.amname FROM pg_catalog.pg_am AS m WHERE m.oid = o.opfmethod))
    FROM pg_catalog.pg_opfamily AS o JOIN pg_catalog.pg_namespace AS n ON n.oid = o.opfnamespace
    UNION ALL
    SELECT o.stxnamespace, o.stxowner, 'STATISTICS', format('%I.%I', n.nspname, o.stxname)
    FROM pg_catalog.pg_statistic_ext AS o JOIN pg_catalog.pg_namespace AS n ON n.oid = o.stxnamespace
    UNION ALL
    SELECT o.cfgnamespace, o.cfgowner, 'TEXT SEARCH CONFIGURATION', format('%I.%I', n.nspname, o.cfgname)
    FROM pg_catalog.pg_ts_config AS o JOIN pg_catalog.pg_namespace AS n ON n.oid = o.cfgnamespace
    UNION ALL
    SELECT o.dictnamespace, o.dictowner, 'TEXT SEARCH DICTIONARY', format('%I.%I', n.nspname, o.dictname)
    FROM pg_catalog.pg_ts_dict AS o JOIN pg_catalog.pg_namespace AS n ON n.oid = o.dictnamespace
)
SELECT n.nspname::text AS schema_name, o.kind::text AS kind, o.name::text AS name,
       pg_get_userbyid(o.owner)::text AS owner
FROM objects AS o
JOIN pg_catalog.pg_namespace AS n ON n.oid = o.nsp
WHERE n.nspname = ANY(@schemas::text[])
ORDER BY 1, 3, 2;

-- name: AuditLargeObjects :many
-- Large objects a named role owns, or that are granted to a named role or
-- to PUBLIC: one row per privilege granted to another role than the owner
-- (grantee '' is PUBLIC), or one row with privilege '' when there is none.
SELECT l.oid::bigint AS id,
       pg_get_userbyid(l.lomowner)::text AS owner,
       coalesce(CASE WHEN x.grantee = 0 THEN '' ELSE pg_get_userbyid(x.grantee) END, '')::text AS grantee,
       coalesce(x.privilege_type, '')::text AS privilege
FROM pg_catalog.pg_largeobject_metadata AS l
LEFT JOIN LATERAL aclexplode(l.lomacl) AS x ON x.grantee <> l.lomowner
WHERE pg_get_userbyid(l.lomowner) = ANY(@roles::text[])
   OR x.grantee = 0 OR pg_get_userbyid(x.grantee) = ANY(@roles::text[])
ORDER BY 1, 3, 4;

-- name: AuditFunctionExecute :many
-- Which of the named functions (as to_regprocedure reads them, e.g.
-- pg_catalog.lo_creat(integer); those this server lacks are skipped) the
-- named roles may execute, directly, through a membership or through
-- PUBLIC; public_may says whether PUBLIC itself may.
SELECT r.rolname::text AS role,
       u.name::text AS function,
       has_function_privilege('public', to_regprocedure(u.name), 'EXECUTE')::bool AS public_may
FROM pg_catalog.pg_roles AS r
CROSS JOIN unnest(@functions::text[]) AS u(name)
WHERE r.rolname = ANY(@roles::text[])
  AND to_regprocedure(u.name) IS NOT NULL
  AND has_function_privilege(r.oid, to_regprocedure(u.name), 'EXECUTE')
ORDER BY 1, 2;

-- name: AuditRoleSettings :many
-- The per-role settings (ALTER ROLE ... SET) of the named roles that apply
-- in the current database: set for it, or for every database
-- (all_databases). One row per setting, as name and value.
SELECT r.rolname::text AS role,
       (s.setdatabase = 0)::bool AS all_databases,
       split_part(c.setting, '=', 1)::text AS name,
       substr(c.setting, length(split_part(c.setting, '=', 1)) + 2)::text AS value
FROM pg_catalog.pg_db_role_setting AS s
JOIN pg_catalog.pg_roles AS r ON r.oid = s.setrole
CROSS JOIN unnest(s.setconfig) AS c(setting)
WHERE r.rolname::text = ANY(@roles::text[])
  AND s.setdatabase IN (0, (SELECT d.oid FROM pg_catalog.pg_database AS d WHERE d.datname = current_database()))
ORDER BY 1, 2, 3;

-- name: AuditDefaultPrivileges :many
-- The default privileges (ALTER DEFAULT PRIVILEGES) of the current database
-- that a named role sets, or that grant to a named role or to PUBLIC (grantee
-- ''): one row per privilege. schema_name '' is every schema; kind is r
-- (tables), S (sequences), f (functions), T (types) or n (schemas).
SELECT pg_get_userbyid(d.defaclrole)::text AS role,
       coalesce(n.nspname, '')::text AS schema_name,
       d.defaclobjtype::text AS kind,
       CASE WHEN x.grantee = 0 THEN '' ELSE pg_get_userbyid(x.grantee) END::text AS grantee,
       x.privilege_type::text AS privilege
FROM pg_catalog.pg_default_acl AS d
LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = d.defaclnamespace
CROSS JOIN aclexplode(d.defaclacl) AS x
WHERE x.grantee <> d.defaclrole
  AND (pg_get_userbyid(d.defaclrole) = ANY(@roles::text[])
       OR x.grantee = 0 OR pg_get_userbyid(x.grantee) = ANY(@roles::text[]))
ORDER BY 1, 2, 3, 4, 5;

-- name: AuditClusterConnect :many
-- The databases other than the current one the named roles may connect to,
-- and whether PUBLIC may (so that the role may through it).
SELECT r.rolname::text AS role,
       d.datname::text AS database,
       has_database_privilege('public', d.oid, 'CONNECT')::bool AS public_may
FROM pg_catalog.pg_roles AS r
CROSS JOIN pg_catalog.pg_database AS d
WHERE r.rolname = ANY(@roles::text[])
  AND d.datname <> current_database() AND d.datallowconn
  AND has_database_privilege(r.oid, d.oid, 'CONNECT')
ORDER BY 2, 1;

-- name: AuditSetting :one
-- The value of a server setting, '' when this server does not know it.
SELECT coalesce(current_setting(@name::text, true), '')::text AS value;

-- name: AuditProbeTables :many
-- The ordinary and partitioned tables of the named schemas, each with a
-- column the write probes can name: one that is neither generated nor an
-- always-identity ('' when there is none).
SELECT n.nspname::text AS schema_name,
       c.relname::text AS name,
       coalesce((SELECT a.attname FROM pg_catalog.pg_attribute AS a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                   AND a.attgenerated = '' AND a.attidentity <> 'a'
                 ORDER BY a.attnum LIMIT 1), '')::text AS probe_column
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(@schemas::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY 1, 2;

-- name: AuditLinkColumnTypes :many
-- The types of the named tables' columns, as SQL, for the link probes.
SELECT n.nspname::text AS schema_name,
       c.relname::text AS table_name,
       a.attname::text AS column_name,
       format_type(a.atttypid, a.atttypmod)::text AS type
FROM pg_catalog.pg_attribute AS a
JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(@schemas::text[]) AND c.relname = ANY(@tables::text[])
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1, 2, a.attnum;
