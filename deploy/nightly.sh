#!/usr/bin/env bash
# Score one night's delivery with the frozen bundle: nightly.sh [DATE] (default: today, YYYY-MM-DD).
# Reads $SONORISK_HOME/exports/DATE/ (images, outlines, cases.csv), writes the cohort to
# incoming/DATE.parquet (cohort id DATE: every night its own partition) and its risks to risk/.
# Exits with sonorisk's status (docs/nightly.md, "Exit codes"); messages go to stderr, which cron
# mails and systemd keeps in the journal.
set -uo pipefail
cd "${SONORISK_HOME:?set SONORISK_HOME to the scoring folder}" || exit 5
night="${1:-$(date +%F)}"

sonorisk ingest --images "exports/$night" --clinical "exports/$night/cases.csv" \
    --mapping mapping.yaml --out "incoming/$night.parquet" || exit $?
sonorisk score --cohort "incoming/$night.parquet" --bundle bundle --risk risk --quiet --fail-on-drift \
    --trusted-keys trusted-keys.pem
status=$?
case $status in
    0) ;;
    7) echo "sonorisk: night $night scored; model inputs drifted: sonorisk runs list --risk $SONORISK_HOME/risk" >&2 ;;
    *) echo "sonorisk: night $night not scored (exit $status; docs/nightly.md, Exit codes)" >&2 ;;
esac
exit $status
