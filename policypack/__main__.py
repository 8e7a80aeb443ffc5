"""Assembles the root-key-guardrails policy pack; the PolicyPack constructor starts the analyzer server and blocks.

The CLI runs this file from the pack's directory (`python -m pulumi.policy <addr> .`), so the policies are imported
as the top-level package `rootkey_pack` next to it.
"""

import gc

from pulumi_policy import EnforcementLevel, PolicyPack
from rootkey_pack import sdk_cache
from rootkey_pack.pack import PACK_NAME, POLICIES

# The SDK converts every resource again for each policy of a request; share the conversion within a request so the
# pack's cost does not grow with its number of policies (see rootkey_pack/sdk_cache.py for why this is safe).
sdk_cache.install()

# The SDK builds a fresh object graph of every resource for every stack policy, and the default collector thresholds
# then rescan the long-lived imports over and over: AnalyzeStack grows faster than linearly with stack size. The
# analyzer lives for one preview, so freezing what is loaded and collecting young objects less often is safe here.
gc.freeze()
gc.set_threshold(200_000, 50, 100)

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Proves the root access-key guardrails (SCP, CloudTrail alarm, scheduled audit) are present, correct and wired together.",
)
