"""A fake HTTP receiver on loopback, standing in for webhook receivers and telephony APIs."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that timed out closed the socket: expected in timeout tests


class FakeReceiver:
    """Records every request; answers with the queued responses, then with ``default``.

    A response is ``(status, body)`` or ``(status, body, delay_seconds)``; a delay
    holds the answer (to make the client time out) until ``stop()``.
    """

    def __init__(self, default=(200, '{"ok": true}')):
        self.default = default
        self.requests = []
        self.responses = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver.requests.append({
                    "method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
                answer = receiver.responses.pop(0) if receiver.responses else receiver.default
                status, payload, delay = (tuple(answer) + (0,))[:3]
                if delay:
                    receiver.release.wait(delay)
                data = payload.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = _handle

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def reset(self):
        self.requests.clear()
        self.responses.clear()
