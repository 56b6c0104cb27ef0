"""Wire protocol: messages, their schema and the sans-I/O session state machines."""
