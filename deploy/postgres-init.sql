-- deploy/compose.yaml: one database per service (docs/postgres.md), created by the postgres
-- image at its first start. scripts/cluster.sh creates the same four (local_pg_create_db).
CREATE DATABASE members;
CREATE DATABASE catalog;
CREATE DATABASE checkout;
CREATE DATABASE orders;
