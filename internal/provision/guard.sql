-- The splitschema toolkit schema and the guard, installed by `splitschema
-- provision` (internal/provision) into the project database. This file is also
-- the schema sqlc reads for queries/pgcatalog, so that the toolkit's own table
-- can be queried through gen/pgcatalog.
--
-- Each step below is one statement that provisioning runs when that part is
-- missing or, for the function, when its body differs; the lines starting
-- "-- step:" separate them.

-- step: schema
CREATE SCHEMA splitschema;

-- step: table
-- The declared services, by schema. Provisioning keeps it equal to the
-- manifest (rows of schemas that are no longer declared but still exist are
-- kept, so their objects stay guarded). pg_dump saves it with the data.
CREATE TABLE splitschema.service (
    schema_name text PRIMARY KEY,
    service     text NOT NULL,
    owner_role  text NOT NULL,
    app_role    text NOT NULL
);

-- step: function
-- The guard. It runs as the role that issued the DDL (not SECURITY DEFINER:
-- current_user must stay the actor). Superusers, such as the admin running
-- splitschema or pg_restore, pass. Its errors carry SQLSTATE 42501
-- (insufficient_privilege), a message that starts "splitschema guard:", and
-- the structured fields SCHEMA and TABLE (the schema and table of the
-- object concerned) and, for a foreign key, CONSTRAINT, so that clients
-- need not parse the message.
--
-- On sql_drop (event trigger splitschema_guard), after every command that
-- dropped something, it raises, which aborts the command, when
--   * the actor is not a member of the owner role of the service whose schema
--     holds a dropped object: e.g. customers_owner's
--     DROP TABLE customers.customer CASCADE, or
--     ALTER TABLE customers.customer DROP COLUMN id CASCADE,
--     that would also drop the foreign key orders holds on it; or
--   * a service role drops a service schema itself.
-- A foreign key's internal triggers sit on the referenced table, in the other
-- service's schema: dropping one's own foreign key drops them too, so those
-- (neither named in the command nor normally dependent) are allowed. A
-- non-superuser admin who is a member of every owner role passes too.
--
-- On ddl_command_end (event trigger splitschema_guard_ddl), after every
-- command that created or altered a table, it raises when that table holds
-- a foreign key to another schema, or is referenced by one from another
-- schema, with a service schema on either side, whose ON DELETE or ON UPDATE
-- action is CASCADE, SET NULL or SET DEFAULT. Such an action makes the
-- referenced service's DELETE or UPDATE change the referencing service's
-- rows, and the referencing service's triggers on those rows then run as
-- the role that issued the DELETE: the referencing service runs its code
-- with the other service's rights. This covers ALTER TABLE ... ADD
-- CONSTRAINT, CREATE TABLE ... REFERENCES, partitions that inherit a foreign
-- key, and any later DDL on a table that still holds such a key (one made
-- before the guard, or by a superuser): drop the key, and the table takes
-- DDL again.
CREATE OR REPLACE FUNCTION splitschema.guard() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $guard$
DECLARE
    actor text := current_user;
    hit record;
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = actor AND rolsuper) THEN
        RETURN;
    END IF;
    IF TG_EVENT = 'ddl_command_end' THEN
        SELECT k.conname, fn.nspname AS from_schema, fc.relname AS from_table,
               tn.nspname AS to_schema, tc.relname AS to_table,
               coalesce(fs.service, fn.nspname) AS from_service,
               coalesce(ts.service, tn.nspname) AS to_service,
               CASE WHEN k.confdeltype IN ('c', 'n', 'd') THEN 'ON DELETE ' ELSE 'ON UPDATE ' END
               || CASE CASE WHEN k.confdeltype IN ('c', 'n', 'd') THEN k.confdeltype ELSE k.confupdtype END
                      WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END AS action,
               CASE WHEN k.confdeltype IN ('c', 'n', 'd') THEN 'DELETE' ELSE 'UPDATE' END AS verb
          INTO hit
        FROM pg_constraint AS k
        JOIN pg_class AS fc ON fc.oid = k.conrelid
        JOIN pg_namespace AS fn ON fn.oid = fc.relnamespace
        JOIN pg_class AS tc ON tc.oid = k.confrelid
        JOIN pg_namespace AS tn ON tn.oid = tc.relnamespace
        LEFT JOIN splitschema.service AS fs ON fs.schema_name = fn.nspname
        LEFT JOIN splitschema.service AS ts ON ts.schema_name = tn.nspname
        WHERE k.contype = 'f'
          AND fn.oid <> tn.oid
          AND (fs.schema_name IS NOT NULL OR ts.schema_name IS NOT NULL)
          AND (k.confdeltype IN ('c', 'n', 'd') OR k.confupdtype IN ('c', 'n', 'd'))
          AND EXISTS (SELECT FROM pg_event_trigger_ddl_commands() AS c
                      WHERE (c.classid = 'pg_class'::regclass AND c.objid IN (k.conrelid, k.confrelid))
                         OR (c.classid = 'pg_constraint'::regclass AND c.objid = k.oid))
        ORDER BY k.oid
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'splitschema guard: foreign key % of %.% references %.% %, but a foreign key between services may only be NO ACTION or RESTRICT',
                    hit.conname, hit.from_schema, hit.from_table, hit.to_schema, hit.to_table, hit.action
                USING ERRCODE = 'insufficient_privilege',
                      SCHEMA = hit.from_schema, TABLE = hit.from_table, CONSTRAINT = hit.conname,
                      DETAIL = hit.action || ' makes a ' || hit.verb || ' by service ' || hit.to_service
                          || ' change rows of service ' || hit.from_service || ', and the triggers of '
                          || hit.from_service || ' on those rows then run as the role of ' || hit.to_service
                          || ' that issued the ' || hit.verb || ': ' || hit.from_service
                          || ' would run its code with the rights of ' || hit.to_service || '.',
                      HINT = 'Declare foreign key ' || hit.conname || ' ON DELETE NO ACTION and ON UPDATE NO ACTION '
                          || '(the defaults) or RESTRICT; ' || hit.from_service || ' cleans up its own rows, e.g. '
                          || 'from an event ' || hit.to_service || ' publishes.';
        END IF;
        RETURN;
    END IF;
    SELECT d.object_type, d.object_identity, s.service, s.schema_name INTO hit
    FROM pg_event_trigger_dropped_objects() AS d
    JOIN splitschema.service AS s
      ON s.schema_name = CASE WHEN d.object_type = 'schema' THEN d.object_name ELSE d.schema_name END
    WHERE NOT (d.object_type = 'trigger' AND NOT d.original AND NOT d.normal)
      AND (NOT EXISTS (SELECT FROM pg_roles AS r
                       WHERE r.rolname = s.owner_role AND pg_has_role(actor, r.oid, 'MEMBER'))
           OR (d.object_type = 'schema'
               AND EXISTS (SELECT FROM splitschema.service AS m WHERE actor IN (m.owner_role, m.app_role))))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'splitschema guard: % may not drop % %, which belongs to service %',
                actor, hit.object_type, hit.object_identity, hit.service
            USING ERRCODE = 'insufficient_privilege',
                  SCHEMA = hit.schema_name,
                  HINT = 'A service may only drop objects in its own schema, and its DDL may not cascade into '
                      || 'another service''s schema. Drop the dependent object in a migration of the service '
                      || 'that owns it first.';
    END IF;
END
$guard$;

-- step: trigger
CREATE EVENT TRIGGER splitschema_guard ON sql_drop EXECUTE FUNCTION splitschema.guard();

-- step: ddltrigger
CREATE EVENT TRIGGER splitschema_guard_ddl ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE')
    EXECUTE FUNCTION splitschema.guard();
