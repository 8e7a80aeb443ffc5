"""The pack's policies: one validator function and one policy constant per check."""
