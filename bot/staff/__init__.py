"""Staff of the hotline: accounts, roles, API tokens and the handoffs they work."""
