"""A tiny OpenAI-compatible HTTP server on the loopback interface, answering from a script, so tests
get the real `openai` SDK's exceptions built from real HTTP responses (status, headers, body)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

Reply = Tuple[int, Dict[str, str], Any]  # (status, headers, JSON body)


def completion(content: str = "hello") -> Dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def error(status: int, message: str = "failure", headers: Optional[Dict[str, str]] = None) -> Reply:
    return (status, headers or {}, {"error": {"message": message, "type": "test_error", "code": None}})


def ok(content: str = "hello") -> Reply:
    return (200, {}, completion(content))


class ScriptedServer:
    """Serves `script` in order (then repeats its last reply). `delay` seconds before each answer."""

    def __init__(self) -> None:
        self.script: List[Reply] = []
        self.requests = 0
        self.delay = 0.0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                with outer._lock:
                    i = min(outer.requests, len(outer.script) - 1)
                    outer.requests += 1
                    status, headers, body = outer.script[i]
                    delay = outer.delay
                if delay:
                    time.sleep(delay)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (a client-side timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def serve(self, *replies: Reply) -> None:
        with self._lock:
            self.script = list(replies)
            self.requests = 0

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
