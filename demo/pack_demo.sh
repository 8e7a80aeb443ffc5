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

# Weakened twice: the SCP is switched off, and the alarms are still there but evaluate once a day, so a root key
# created now would alert tomorrow.
expect_exit 1 "2. A weakened variant is blocked with the pack's messages: exit status 1 is the expected result" \
    python -m preflight --policy-pack policypack --stack dev --config "$SUBSCRIBER" \
        --config enableScp=false --config alarmPeriodSeconds=86400
