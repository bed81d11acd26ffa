"""mmload: load and rate-limit testing for the Mattermost API and any rate-limited HTTP API."""

__version__ = "0.1.0"
