"""A minimal Language Server Protocol client: ask yaml-language-server for completions.

Used by test_tooling_editor.py to check what an editor really offers from dagc's schemas.
The server comes from npm (`make editor-deps` installs it under .venv/node); without it those
tests skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def server() -> str | None:
    local = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "yaml-language-server"
    return os.environ.get("DAGC_YAML_LANGUAGE_SERVER") or (str(local) if local.exists() else None) \
        or shutil.which("yaml-language-server")


class Client:
    def __init__(self, exe: str, root: Path) -> None:
        self.p = subprocess.Popen([exe, "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        self.next_id = 0
        self.request("initialize", {"processId": os.getpid(), "rootUri": root.resolve().as_uri(),
                                    "capabilities": {"textDocument": {"completion": {}}}})
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": {"yaml": {
            "validate": True, "completion": True, "hover": True, "schemaStore": {"enable": False}}}})

    def _send(self, msg: dict[str, Any]) -> None:
        body = json.dumps(msg).encode()
        assert self.p.stdin is not None
        self.p.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        self.p.stdin.flush()

    def _recv(self) -> dict[str, Any]:
        assert self.p.stdout is not None
        length = 0
        while True:
            line = self.p.stdout.readline().decode()
            if line in ("\r\n", ""):
                break
            key, value = line.split(":", 1)
            if key.strip().lower() == "content-length":
                length = int(value)
        if not length:
            raise RuntimeError("yaml-language-server closed the connection")
        return json.loads(self.p.stdout.read(length))  # type: ignore[no-any-return]

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        rid = self.next_id
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        while True:
            m = self._recv()
            if m.get("id") == rid and "method" not in m:
                return m.get("result")
            if "id" in m and "method" in m:  # a request from the server (configuration, ...)
                items = (m.get("params") or {}).get("items") or []
                result = [{"validate": True, "completion": True}] * len(items) if items else None
                self._send({"jsonrpc": "2.0", "id": m["id"], "result": result})

    def completions(self, path: Path, text: str, line: int, character: int) -> list[str]:
        uri = path.resolve().as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1,
                                                              "text": text}})
        res = self.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                       "position": {"line": line, "character": character}})
        items = res.get("items", []) if isinstance(res, dict) else (res or [])
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        return sorted(i["label"] for i in items)

    def close(self) -> None:
        self.p.kill()
        self.p.wait(timeout=30)
