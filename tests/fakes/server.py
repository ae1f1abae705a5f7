"""
What the fake APIs share: a threaded HTTP server on 127.0.0.1 (port 0: any
free one) with ``url``, ``start()``/``stop()`` and ``with``; every request
recorded and answered under one lock, its body read as JSON; API errors
turned into the API's error document; and the command line that serves a
fake by hand.

A fake subclasses :class:`FakeAPI` and gives ``handle(method, path, query,
body)`` → ``(status, JSON document or None)``, ``authorize(headers)``
(raises its :class:`ApiError` to refuse), ``bad_json()`` (the error for a
body that is not JSON) and, for paths outside its API, ``respond`` (which
may answer a fourth element: more response headers).
"""

import argparse
import http.server
import json
import threading
import urllib.parse


class ApiError(Exception):
    """
    An error answer: ``status`` and the API's JSON ``document()``.
    """

    status = 500

    def document(self):
        raise NotImplementedError


class FakeAPI:
    """
    The HTTP side of a fake; ``self.requests`` lists (method, path) as they came.
    """

    methods = ("GET", "POST", "PUT", "DELETE")
    content_type = "application/json"
    # how often the server looks for stop(): short, so that teardowns are quick
    poll_interval = 0.05

    def __init__(self):
        self.requests = []
        self._lock = threading.Lock()
        self._server = None

    # -- what a fake gives -------------------------------------------------

    def handle(self, method, path, query, body):
        raise NotImplementedError

    def authorize(self, headers):
        """
        Raise the fake's ApiError when the request's credentials are refused.
        """

    def bad_json(self):
        raise NotImplementedError

    # -- answering ---------------------------------------------------------

    def reply(self, status, document, content_type=None):
        """
        (status, payload, content type) of a JSON document (None: no body).
        """
        if document is None:
            return status, b"", None
        return status, json.dumps(document).encode(), content_type or self.content_type

    def respond(self, method, url, headers, raw):
        """
        One request, under the lock: (status, payload, content type).
        """
        try:
            self.authorize(headers)
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                raise self.bad_json() from None
            status, document = self.handle(method, url.path, urllib.parse.parse_qs(url.query), body)
        except ApiError as exc:
            status, document = exc.status, exc.document()
        return self.reply(status, document)

    # -- the server --------------------------------------------------------

    def start(self, port=0):
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: without this, each
            # keep-alive request waits out the client's delayed ACK
            disable_nagle_algorithm = True

            def _serve(self):
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with api._lock:
                    api.requests.append((self.command, url.path))
                    status, payload, content_type, *extra = api.respond(self.command, url, self.headers, raw)
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                for header, value in (extra[0] if extra else {}).items():
                    self.send_header(header, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):  # quiet
                pass

        for method in self.methods:
            setattr(Handler, f"do_{method}", Handler._serve)  # pylint: disable=protected-access
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": self.poll_interval}, daemon=True
        ).start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(cls, name, description, port, **options):
    """
    Serve a fake by hand until Ctrl-C: ``--port`` and one ``--OPTION`` per
    keyword (its default), passed to ``cls``.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=port)
    for option, default in options.items():
        parser.add_argument(f"--{option}", default=default)
    args = parser.parse_args()
    settings = {option: getattr(args, option) for option in options}
    api = cls(**settings).start(args.port)
    shown = ", ".join(f"{option} {value}" for option, value in settings.items())
    print(f"{name} on {api.url} ({shown}); Ctrl-C stops it", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        api.stop()
