"""Running code in a kernel started through the server: Jupyter's messaging protocol over the
server's ``api/kernels/<id>/channels`` WebSocket (as JupyterLab does)."""

from __future__ import annotations

import asyncio
import json
import uuid

#: Seconds a kernel started through the server gets to start and run one cell.
KERNEL_TIMEOUT_S = 120


async def execute(channels, code: str) -> str:
    """Run ``code`` in the kernel behind ``channels`` (the server's WebSocket, Jupyter's
    messaging protocol); the text it printed and displayed."""
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "teacher",
              "session": uuid.uuid4().hex, "date": "", "version": "5.3"}  # fmt: skip
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": True}  # fmt: skip
    request = {"header": header, "parent_header": {}, "metadata": {}, "content": content,
               "channel": "shell", "buffers": []}  # fmt: skip
    await channels.write_message(json.dumps(request))
    text, idle = [], False
    while not idle:
        message = json.loads(await asyncio.wait_for(channels.read_message(), KERNEL_TIMEOUT_S))
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        kind, body = message["msg_type"], message["content"]
        if kind == "stream":
            text.append(body["text"])
        elif kind in ("display_data", "execute_result"):
            text.append(body["data"].get("text/plain", ""))
        elif kind == "error":
            text.append(f"{body['ename']}: {body['evalue']}")
        idle = kind == "status" and body["execution_state"] == "idle"
    return "\n".join(text)
