-- Not a migration; goose never reads this file (it reads migrations/<service>/ only).
--
-- Provisioning creates every service's schema before any migration runs, so the
-- migrations never create or drop their schema. sqlc has no provisioning step and
-- refuses a schema-qualified CREATE TABLE in a schema it has not seen, so sqlc.yaml
-- lists this file before each package's migrations.
CREATE SCHEMA customers;
CREATE SCHEMA catalog;
CREATE SCHEMA orders;
CREATE SCHEMA payments;
CREATE SCHEMA shipping;
