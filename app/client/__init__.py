"""The asyncio client session: connect, authenticate, resume, reconnect, outbox."""
