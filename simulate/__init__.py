"""Simulation helpers shared by tests, the demo and the benchmarks (never shipped in the audit Lambda).

They make moto behave like AWS where the root access key audit (CIS 1.4, Security Hub IAM.4) depends on it.
"""
