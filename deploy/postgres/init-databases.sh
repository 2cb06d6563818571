#!/bin/sh
# First start of the compose stack's PostgreSQL: one role and one database per service, each
# database owned by its own role (a service cannot read another's tables).
# Passwords come from deploy/.env (python3 deploy/make_secrets.py compose > deploy/.env).
set -eu
for service in identity registry submissions; do
  var=$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD
  password=$(printenv "$var")
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="$service" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done
