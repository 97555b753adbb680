-- splitschema.refresh_materialized_view: how a service's application role
-- refreshes a materialized view of its own service. REFRESH needs ownership,
-- and the owner of a service's objects is its owner role, which the
-- application role must not be (it would get every DDL right). This function
-- runs as the admin that installed it (SECURITY DEFINER) and refreshes only a
-- materialized view in a schema of the service whose application role (or a
-- member of whose owner role) is the session's login. PostgreSQL runs the
-- view's query as the view's owner, in a security-restricted operation, so
-- the caller gains nothing but the refresh. Provisioning installs it
-- (replacing it when its body differs) and grants EXECUTE to the service
-- application roles only.
CREATE OR REPLACE FUNCTION splitschema.refresh_materialized_view(matview regclass, concurrent boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $refresh$
DECLARE
    target record;
BEGIN
    SELECT n.nspname AS schema_name, c.relname AS name, c.relkind AS kind, s.service, s.owner_role, s.app_role
      INTO target
      FROM pg_class AS c
      JOIN pg_namespace AS n ON n.oid = c.relnamespace
      LEFT JOIN splitschema.service AS s ON s.schema_name = n.nspname
     WHERE c.oid = matview;
    IF NOT FOUND OR target.kind <> 'm' THEN
        RAISE EXCEPTION 'splitschema refresh: % is not a materialized view', matview
            USING ERRCODE = '42809';
    END IF;
    IF target.service IS NULL THEN
        RAISE EXCEPTION 'splitschema refresh: %.% belongs to no service', target.schema_name, target.name
            USING ERRCODE = '42501';
    END IF;
    IF session_user::text <> target.app_role
       AND NOT EXISTS (SELECT FROM pg_roles AS r
                       WHERE r.rolname = target.owner_role AND pg_has_role(session_user, r.oid, 'MEMBER')) THEN
        RAISE EXCEPTION 'splitschema refresh: % may not refresh %.%, a materialized view of service %', session_user, target.schema_name, target.name, target.service
            USING ERRCODE = '42501',
                  HINT = 'only the service''s own application role (or its owner) may refresh it';
    END IF;
    IF concurrent THEN
        EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %I.%I', target.schema_name, target.name);
    ELSE
        EXECUTE format('REFRESH MATERIALIZED VIEW %I.%I', target.schema_name, target.name);
    END IF;
END
$refresh$
