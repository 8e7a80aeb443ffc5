"""Assembles the root-key-guardrails policy pack; the PolicyPack constructor starts the analyzer server and blocks.

The CLI runs this file from the pack's directory (`python -m pulumi.policy <addr> .`), so the policies are imported
as the top-level package `rootkey_pack` next to it.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from rootkey_pack.pack import PACK_NAME, POLICIES

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Proves the root access-key guardrails (SCP, CloudTrail alarm, scheduled audit) are present, correct and wired together.",
)
