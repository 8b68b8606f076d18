"""A minimal stdio MCP server (newline-delimited JSON-RPC 2.0, stdlib only) with one tool.

    recall(query) -> "remembered: <query>"

Used as the `memory_mcp_config` server in the driver's end-to-end test.
"""

from __future__ import annotations

import json
import sys

TOOLS = [
    {
        "name": "recall",
        "description": "Recall what the team learned about a topic.",
        "inputSchema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    }
]


def answer(msg_id: object, result: object = None, error: dict | None = None) -> None:
    reply = {"jsonrpc": "2.0", "id": msg_id, **({"error": error} if error else {"result": result})}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()


def main() -> None:
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        method, msg_id = msg.get("method"), msg.get("id")
        if msg_id is None:
            continue  # a notification
        params = msg.get("params") or {}
        if method == "initialize":
            answer(msg_id, {"protocolVersion": params.get("protocolVersion", "2025-06-18"),
                            "capabilities": {"tools": {"listChanged": False}},
                            "serverInfo": {"name": "mini-memory", "version": "0.1.0"}})  # fmt: skip
        elif method == "tools/list":
            answer(msg_id, {"tools": TOOLS})
        elif method == "tools/call" and params.get("name") == "recall":
            query = (params.get("arguments") or {}).get("query", "")
            answer(msg_id, {"content": [{"type": "text", "text": f"remembered: {query}"}], "isError": False})
        elif method == "ping":
            answer(msg_id, {})
        else:
            answer(msg_id, error={"code": -32601, "message": f"method not found: {method}"})


if __name__ == "__main__":
    main()
