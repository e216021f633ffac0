#!/usr/bin/env bash
# Dump Permanence's PostgreSQL database to DIR/permanence-<UTC date and time>.dump (pg_dump's custom
# format: compressed, restored with restore.sh). Nightly, from cron or a systemd timer; see "Backups"
# in docs/deployment.md for what else to keep (PERMANENCE_DATA_DIR/media, the env file).
#
#   DATABASE_URL=postgres://... deploy/backup.sh DIR
#
# pg_dump must be of the server's major version or newer (with compose.yaml, dump from inside the
# postgres container instead: docs/deployment.md).
set -euo pipefail

usage="usage: DATABASE_URL=postgres://... $0 DIR  (writes DIR/permanence-YYYYMMDDTHHMMSSZ.dump)"
if [[ $# -ne 1 || -z "$1" ]]; then
    echo "$usage" >&2
    exit 2
fi
if [[ -z "${DATABASE_URL:-}" ]]; then
    echo "backup.sh: DATABASE_URL is not set (the database to dump); $usage" >&2
    exit 2
fi
case "$DATABASE_URL" in
    postgres://* | postgresql://*) ;;
    *)
        echo "backup.sh: DATABASE_URL must be a postgres:// URL (SQLite: copy the file instead)" >&2
        exit 2
        ;;
esac
dir=$1
if [[ ! -d "$dir" ]]; then
    echo "backup.sh: $dir is not a folder" >&2
    exit 2
fi

file="$dir/permanence-$(date -u +%Y%m%dT%H%M%SZ).dump"
partial="$file.partial"
trap 'rm -f "$partial"' EXIT
# Written under another name first: a dump cut short is never taken for a good one.
pg_dump --format=custom --file="$partial" --dbname="$DATABASE_URL"
mv "$partial" "$file"
echo "$file"
