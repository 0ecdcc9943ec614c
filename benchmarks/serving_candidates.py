"""The inference server's routes behind each candidate HTTP server, one process each,
for ``bench_serving_http.py``.

Usage: ``python benchmarks/serving_candidates.py KIND MODEL_DIR PORT`` with KIND one
of ``handwritten`` (the layer simsage used before, the baseline), ``stdlib``
(simsage.serving.server as shipped), ``stdlib-email`` (the same with http.server's own
``parse_request``, whose headers go through the ``email`` parser), ``werkzeug`` (its threaded development server),
``waitress`` (4 threads) or ``gunicorn`` (gthread worker, 1 process, 4 threads). Every
candidate serves the same built-in XGBoost handler through the same
:class:`simsage.serving.server.Routes`, so only the HTTP layer differs.
"""

from __future__ import annotations

import signal
import sys
import threading
from http import HTTPStatus
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simsage.serving.routes import Routes, build_handler  # noqa: E402

KINDS = ("handwritten", "stdlib", "stdlib-email", "werkzeug", "waitress", "gunicorn")
_PHRASES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}


def routes_for(model_dir: str) -> Routes:
    routes = Routes()
    routes.handler = build_handler("xgboost", model_dir).load()
    return routes


def wsgi_app(routes: Routes):
    """The routes as a WSGI application (werkzeug, waitress, gunicorn)."""

    def app(environ, start_response):
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = environ.get("CONTENT_LENGTH")
        stream = environ["wsgi.input"]
        if length:
            body = stream.read(int(length))
        elif environ.get("wsgi.input_terminated"):
            body = stream.read()
        else:
            body = b""
        answer = routes.answer(environ["REQUEST_METHOD"], environ["PATH_INFO"], headers, body)
        out = [("Content-Type", answer.content_type)] if answer.content_type else []
        out += list(answer.headers.items())
        out.append(("Content-Length", str(len(answer.body))))
        start_response(_PHRASES[answer.status], out)
        return [answer.body]

    return app


def _email_headers_exchange():
    """The shipped request handler with http.server's own ``parse_request``."""
    import http.server

    from simsage.serving.server import _Exchange

    class EmailHeaders(_Exchange):
        def parse_request(self) -> bool:
            with self.server.state_lock:
                self.busy = True
            if not http.server.BaseHTTPRequestHandler.parse_request(self):
                return False
            headers: dict[str, str] = {}
            for name, value in self.headers.items():
                key, value = name.lower(), value.strip()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            self.headers = headers
            return True

    return EmailHeaders


def serve(kind: str, model_dir: str, port: int) -> None:
    if kind == "gunicorn":
        from gunicorn.app.base import BaseApplication

        class _App(BaseApplication):
            def load_config(self):
                for key, value in {
                    "bind": f"127.0.0.1:{port}",
                    "worker_class": "gthread",
                    "workers": 1,
                    "threads": 4,
                    "keepalive": 60,
                    "accesslog": None,
                    "loglevel": "warning",
                }.items():
                    self.cfg.set(key, value)

            def load(self):
                return wsgi_app(routes_for(model_dir))

        _App().run()
        return
    routes = routes_for(model_dir)
    if kind == "waitress":
        import waitress

        waitress.serve(
            wsgi_app(routes), host="127.0.0.1", port=port, threads=4, _quiet=True, ident=None
        )
        return
    if kind == "werkzeug":
        import logging

        from werkzeug.serving import WSGIRequestHandler, make_server

        class NoDelay(WSGIRequestHandler):
            disable_nagle_algorithm = True  # as the others: no wait between head and body

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = make_server(
            "127.0.0.1", port, wsgi_app(routes), threaded=True, request_handler=NoDelay
        )
    elif kind in ("stdlib", "stdlib-email"):
        from simsage.serving.server import InferenceServer

        server = InferenceServer(port)
        server.routes = routes
        if kind == "stdlib-email":
            server.RequestHandlerClass = _email_headers_exchange()
    elif kind == "handwritten":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from handwritten_server import InferenceServer as Handwritten

        server = Handwritten(port)
        server.handler = routes.handler
    else:
        raise SystemExit(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
