"""The hub: asyncio websocket server that authenticates, authorizes, sequences and fans out."""
