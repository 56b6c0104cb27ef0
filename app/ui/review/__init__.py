"""Supervisor review windows (Qt) over the headless `app.review` package."""
