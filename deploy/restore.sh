#!/usr/bin/env bash
# Restore a dump written by backup.sh into the database of DATABASE_URL (an empty one, created by
# its owner: createdb -O permanence permanence), then bring its tables up to this version of
# Permanence (permanence migrate). Stop every Permanence process first; see "Restore" in
# docs/deployment.md.
#
#   DATABASE_URL=postgres://... SECRET_KEY=... deploy/restore.sh FILE
#
# `permanence migrate` reads the settings as every process does (give it the whole env file: see
# docs/deployment.md). `permanence` is looked for in PATH, else set PERMANENCE to its path.
set -euo pipefail

usage="usage: DATABASE_URL=postgres://... $0 FILE  (a dump written by backup.sh)"
if [[ $# -ne 1 || -z "$1" ]]; then
    echo "$usage" >&2
    exit 2
fi
if [[ -z "${DATABASE_URL:-}" ]]; then
    echo "restore.sh: DATABASE_URL is not set (the database to restore into); $usage" >&2
    exit 2
fi
case "$DATABASE_URL" in
    postgres://* | postgresql://*) ;;
    *)
        echo "restore.sh: DATABASE_URL must be a postgres:// URL" >&2
        exit 2
        ;;
esac
file=$1
if [[ ! -f "$file" ]]; then
    echo "restore.sh: $file is not a file" >&2
    exit 2
fi
permanence=${PERMANENCE:-permanence}
if ! command -v "$permanence" >/dev/null; then
    echo "restore.sh: $permanence not found (set PERMANENCE to the permanence command)" >&2
    exit 2
fi

# One transaction: all of it or nothing. --clean --if-exists replaces what a half-restored or older
# database holds; no owner, no grants: the objects belong to the user of DATABASE_URL.
pg_restore --clean --if-exists --no-owner --no-acl --single-transaction --dbname="$DATABASE_URL" "$file"
"$permanence" migrate --no-input
echo "restored $file"
