"""Policies and pure analysers proving the root-access-key guardrails (CIS AWS Foundations "no root access key",
Security Hub IAM.4 / CloudWatch.1, Control Tower AWS-GR_RESTRICT_ROOT_USER_ACCESS_KEYS).

Importing this package never starts the analyzer server: `policypack/__main__.py` alone builds the `PolicyPack`.
"""
