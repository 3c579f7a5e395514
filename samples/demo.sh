#!/usr/bin/env bash
# The main job end to end on the bundled sample data (run by `make run`).
# Two homes stand for the two sides of the air gap: intake (internet side) and internal.
set -euo pipefail
demo=${1:?usage: demo.sh DEMO_DIR}
bin=${CLUETOOL:-.venv/bin/cluetool}
intake=$demo/intake-home internal=$demo/internal-home
ok_or_findings() { local rc=0; "$@" || rc=$?; [ "$rc" -le 1 ] || exit "$rc"; }
step() { printf '\n== %s ==\n' "$*" >&2; }

rm -rf "$intake" "$internal" "$demo/outbox"
step "internal side: create a home and an encryption identity"
$bin --home "$internal" init
$bin --home "$internal" -q keys generate internal >/dev/null
recipient=$($bin --home "$internal" keys export internal --age)

step "intake side: create a home and a signing key"
$bin --home "$intake" init
$bin --home "$intake" -q keys generate main >/dev/null
$bin --home "$intake" keys export main --minisign > "$demo/intake-bj.pub"

step "validate the spool (the invalid samples are meant to fail, exit 1)"
ok_or_findings $bin validate "$demo/spool"

step "seal: invalid submissions go to quarantine, the rest into signed, encrypted batches"
ok_or_findings $bin --home "$intake" seal "$demo/spool" --source intake-bj --to "$recipient" \
  --out "$demo/outbox" --max-reports 25

step "carry the batches across; internal side trusts the intake signer"
$bin --home "$internal" -q keys trust intake-bj "$demo/intake-bj.pub" >/dev/null

step "verify the batches and their chain without decrypting"
$bin --home "$internal" verify --chain "$demo"/outbox/*.clue

step "verify again, decrypting in memory and checking the inner index"
$bin --home "$internal" verify --chain --decrypt --identity internal "$demo"/outbox/*.clue

step "import the batches into the internal store (all or nothing per batch)"
$bin --home "$internal" import --identity internal "$demo"/outbox/*.clue

step "import again: a no-op that says so"
$bin --home "$internal" import --identity internal "$demo"/outbox/*.clue

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
