"""Offline emulation of `pulumi preview --policy-pack`: the program under the SDK's mock engine, the pack
over the real analyzer gRPC protocol. Serves every control by proving the pack's verdicts before deployment."""
