"""The scenario simulator: a realistic shift played over feed clients on the real city."""
