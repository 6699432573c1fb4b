-- The application's tables, created once by the database's own init (docker-entrypoint-initdb.d,
-- as the owner role), never by the application: the backend's role bss_app has no DDL rights
-- (primary-init.sh revokes CREATE on schema public) and only checks at start that these exist.
-- Runs after primary-init.sh (10-replication.sh) on the primary, and alone on a standalone server
-- (the mesh end-to-end suite), where there is no bss_app to grant to.
CREATE TABLE customers (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer_id bigint NOT NULL,
  amount numeric NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- bss_app: rows only (DML), no DDL. Said explicitly here as well as by primary-init.sh's default privileges.
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'bss_app') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON customers, orders TO bss_app;
    GRANT USAGE, SELECT ON SEQUENCE customers_id_seq, orders_id_seq TO bss_app;
  END IF;
END
$$;
