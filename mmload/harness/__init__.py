"""The Locust side: options, users, pacing, accounts, the collector and the scenarios."""
