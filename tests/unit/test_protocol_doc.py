"""docs/protocol.md stays true: every example in it is decoded by the real codec."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.domain.commands import COMMANDS
from app.protocol.messages import Command, Query, decode_args, decode_client, decode_hub
from app.protocol.queries import QUERY_ARGS, decode_query_args

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
BLOCKS = re.findall(r"```json (client|hub)\n(.*?)```", DOC.read_text(), re.S)


def test_the_document_has_examples_of_every_message() -> None:
    kinds = {re.search(r'"type": "(\w+)"', body).group(1) for _, body in BLOCKS}  # type: ignore[union-attr]
    assert kinds >= {"hello", "welcome", "subscribe", "snapshot", "events", "caught_up", "command", "ack", "reject",
                     "error", "ping", "pong"}


def test_every_query_is_in_the_table() -> None:
    text = DOC.read_text()
    assert all(f"| `{what}` |" in text for what in QUERY_ARGS)


def test_every_command_is_in_the_table() -> None:
    text = DOC.read_text()
    assert all(f"| `{name}` |" in text for name in COMMANDS)


@pytest.mark.parametrize(("direction", "body"), BLOCKS, ids=[f"{d}-{i}" for i, (d, _) in enumerate(BLOCKS)])
def test_example_decodes(direction: str, body: str) -> None:
    if direction == "client":
        message = decode_client(body)
        if isinstance(message, Command):
            decode_args(message)
        if isinstance(message, Query):
            decode_query_args(message)
    else:
        decode_hub(body)
