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
-- current_user must stay the actor), after every command that dropped
-- something, and raises, which aborts the command, when
--   * the actor is not a member of the owner role of the service whose schema
--     holds a dropped object: e.g. customers_owner's
--     DROP TABLE customers.customer CASCADE, or
--     ALTER TABLE customers.customer DROP COLUMN id CASCADE,
--     that would also drop the foreign key orders holds on it; or
--   * a service role drops a service schema itself.
-- A foreign key's internal triggers sit on the referenced table, in the other
-- service's schema: dropping one's own foreign key drops them too, so those
-- (neither named in the command nor normally dependent) are allowed.
-- Superusers, such as the admin running splitschema or pg_restore, pass; so
-- does a non-superuser admin who is a member of every owner role.
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
    SELECT d.object_type, d.object_identity, s.service INTO hit
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
                  HINT = 'A service may only drop objects in its own schema, and its DDL may not cascade into '
                      || 'another service''s schema. Drop the dependent object in a migration of the service '
                      || 'that owns it first.';
    END IF;
END
$guard$;

-- step: trigger
CREATE EVENT TRIGGER splitschema_guard ON sql_drop EXECUTE FUNCTION splitschema.guard();
