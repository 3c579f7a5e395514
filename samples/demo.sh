#!/usr/bin/env bash
# The main job end to end on the bundled sample data (run by `make run`).
# Two homes stand for the two sides of the air gap: intake (internet side) and internal.
set -euo pipefail
demo=${1:?usage: demo.sh DEMO_DIR}
bin=${CLUETOOL:-.venv/bin/cluetool}
intake=$demo/intake-home internal=$demo/internal-home
ok_or_findings() { local rc=0; "$@" || rc=$?; [ "$rc" -le 1 ] || exit "$rc"; }
step() { printf '\n== %s ==\n' "$*" >&2; }
# Every time the demo feeds to the tool is explicit, so it gives the same result on any
# date: the samples were received before 2026-11-01 and are carried across that day.
sealed_at=2026-11-01T09:00:00+08:00 imported_at=2026-11-01T14:00:00+08:00 assigned_at=2026-11-01T15:00:00+08:00

rm -rf "$intake" "$internal" "$demo/outbox"
step "internal side: create a home and an encryption identity"
# CLUETOOL_DEMO_STORE=postgresql://... keeps the internal store in PostgreSQL (docs/postgresql.md).
$bin --home "$internal" init ${CLUETOOL_DEMO_STORE:+--store "$CLUETOOL_DEMO_STORE"}
$bin --home "$internal" -q keys generate internal >/dev/null
recipient=$($bin --home "$internal" keys export internal --age)

step "intake side: create a home and a signing key"
$bin --home "$intake" init
$bin --home "$intake" -q keys generate main >/dev/null
$bin --home "$intake" keys export main --minisign > "$demo/intake-bj.pub"

step "validate the spool (the invalid samples are meant to fail, exit 1)"
ok_or_findings $bin validate --at "$sealed_at" "$demo/spool"

step "seal: invalid submissions go to quarantine, the rest into signed, encrypted batches"
ok_or_findings $bin --home "$intake" seal "$demo/spool" --source intake-bj --to "$recipient" \
  --out "$demo/outbox" --max-reports 25 --at "$sealed_at"

step "carry the batches across; internal side trusts the intake signer"
$bin --home "$internal" -q keys trust intake-bj "$demo/intake-bj.pub" >/dev/null

step "verify the batches and their chain without decrypting"
$bin --home "$internal" verify --chain "$demo"/outbox/*.clue

step "verify again, decrypting in memory and checking the inner index"
$bin --home "$internal" verify --chain --decrypt --identity internal "$demo"/outbox/*.clue

step "import the batches into the internal store (all or nothing per batch)"
$bin --home "$internal" import --identity internal --at "$imported_at" "$demo"/outbox/*.clue

step "import again: a no-op that says so"
$bin --home "$internal" import --identity internal --at "$imported_at" "$demo"/outbox/*.clue

step "a reporter checks progress with a query code"
# The sample generator kept the plain codes apart (only their sha256 travels); take one
# of a submission that was sealed and imported.
sealed=$(ls "$demo"/spool.done/*/ | grep -v : | grep . | sort | head -1)
code=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$demo/sample-codes.json" "$sealed")
$bin --home "$internal" status "$code"

step "possible duplicates for a person to confirm"
$bin --home "$internal" duplicates

step "store integrity: SQLite checks and every blob re-hashed"
$bin --home "$internal" store check

step "assign the imported clues by the rules (unmatched ones would exit 1)"
ok_or_findings $bin --home "$internal" assign --at "$assigned_at"

step "record handling events on one clue (a unique id prefix is enough)"
clue=$(ls "$demo"/spool.done/*/ | grep -v : | grep . | sort | head -1)
$bin --home "$internal" record "${clue:0:8}" contacted --channel phone --at 2026-11-02T10:00:00+08:00 --note "reporter reached"
$bin --home "$internal" record "${clue:0:8}" verified --at 2026-11-03T10:00:00+08:00

step "the working-day calendar: known years (exit 1 while next year's schedule is missing)"
ok_or_findings $bin --home "$internal" calendar check --as-of 2026-11-24

step "deadline report as of a fixed date (exit 1 when something is overdue, for cron)"
ok_or_findings $bin --home "$internal" deadlines --as-of 2026-11-24 --fail-on overdue

step "the transfer ledger"
$bin --home "$internal" ledger

step "supervision: the monthly callback sample (seeded from the latest signed checkpoint), statistics, HTML report"
$bin --home "$internal" sample --month 2026-10 --size 2 --out "$demo/draw-2026-10.json" --at 2026-11-05T10:00:00+08:00
$bin --home "$internal" stats --as-of 2026-11-24 --months 3 > "$demo/stats.txt"
rm -rf "$demo/report" && $bin --home "$internal" report --out "$demo/report" --as-of 2026-11-24

step "audit: sign a checkpoint, verify the whole log, export it for an auditor"
$bin --home "$internal" audit checkpoint --key internal --quiet
$bin --home "$internal" audit verify --key internal
rm -rf "$demo/audit-export"
$bin --home "$internal" audit export --key internal --out "$demo/audit-export"
step "an auditor verifies the export with the log's key obtained out of band (not the export's own key.pub), then cosigns it"
cp "$internal/keys/internal.pub" "$demo/log-key.pub"  # in real life: handed over in person
env -u CLUETOOL_HOME $bin audit verify --export "$demo/audit-export" --key "$demo/log-key.pub"
env -u CLUETOOL_HOME $bin sample --verify "$demo/draw-2026-10.json" --export "$demo/audit-export" --key "$demo/log-key.pub"
rm -rf "$demo/auditor-home" "$demo/auditor.state" && $bin --home "$demo/auditor-home" init && $bin --home "$demo/auditor-home" -q keys generate auditor >/dev/null
env -u CLUETOOL_HOME $bin -f json audit witness --export "$demo/audit-export" --key "$demo/auditor-home/keys/auditor.key" \
  --state "$demo/auditor.state" --log-key "$demo/log-key.pub" --out "$demo/cosigned.txt" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["witness_key"])' > "$demo/auditor.vkey"
$bin --home "$internal" audit cosignatures import "$demo/cosigned.txt" --witness-key "$demo/auditor.vkey" --key internal
$bin --home "$internal" audit verify --key internal --against "$demo/audit-export"

step "status feed back to the intake (docs/feed.md): stages by query-code hash and a receipt of the batches imported"
fed_at=2026-11-03T18:00:00+08:00
rm -rf "$demo/feeds"
$bin --home "$internal" feed export --source internal --key internal --out "$demo/feeds" --at "$fed_at"
cp "$internal/keys/internal.pub" "$demo/internal.pub"  # in real life: handed over in person, once
$bin --home "$intake" keys trust internal "$demo/internal.pub"
step "the intake imports it: status answers there, and the confirmed batches leave spool.done/"
$bin --home "$intake" feed import "$demo"/feeds/internal-00000001.status --at "$fed_at"
$bin --home "$intake" status "$code"
