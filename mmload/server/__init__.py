"""The embedded reference server: Mattermost's API and rate limiter, on asyncio and httptools."""
