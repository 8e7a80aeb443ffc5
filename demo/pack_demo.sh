#!/usr/bin/env bash
# The policy pack half of `make demo`, offline: the default program passes the pack, then a weakened variant is
# blocked with the pack's messages. Each step checks the exit status it expects, so the demo itself fails if the
# compliant program is blocked, if the weakened one gets through, or if preflight cannot reach a verdict (exit 2).
set -euo pipefail
cd "$(dirname "$0")/.."

expect_exit() {
    local expected=$1 title=$2
    shift 2
    printf '\n=== %s\n$ %s\n\n' "$title" "$*"
    local status=0
    "$@" || status=$?
    if [[ $status -ne $expected ]]; then
        printf '\ndemo FAILED: expected exit status %s, got %s\n' "$expected" "$status" >&2
        exit 1
    fi
    printf '\n--> exit status %s, as expected\n' "$status"
}

# The defaults plus the one value no default can know: who receives the alerts. (Without it the pack passes with
# one advisory, alarm-topic-has-subscriber.)
SUBSCRIBER='alarmEmails=["secops@example.com"]'

expect_exit 0 "1. The default program passes the policy pack (no credentials, no Pulumi CLI)" \
    python -m preflight --policy-pack policypack --stack dev --config "$SUBSCRIBER"

# Weakened twice, with values the program accepts: the SCP is switched off (nothing prevents a root key), and the
# scheduled audit is left out (nothing would find one created before the detection was in place).
expect_exit 1 "2. A weakened variant is blocked with the pack's messages: exit status 1 is the expected result" \
    python -m preflight --policy-pack policypack --stack dev --config "$SUBSCRIBER" \
        --config enableScp=false --config enableAudit=false
