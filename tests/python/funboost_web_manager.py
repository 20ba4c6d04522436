"""funboost's web manager page in front of funboost-edge (test-only; also the README's example).

Serves funboost 55's own timing-job page, unmodified, from the installed funboost package, the
way funweb (funboost/funweb/app.py, Flask) serves it, and sends every `/funboost/*` request to
funboost-edge:

    /tpl/timing_jobs_management.html  the template rendered with Jinja2 as funweb's
                                      `render_template` does (its only template call is
                                      `url_for('static', filename=...)`); `/` redirects here
    /static/<path>                    funweb/static/ of the package (jQuery, Bootstrap,
                                      Tabulator, Select2, Font Awesome: nothing from a CDN)
    /funboost/<route>?<query>         proxied to --api (funboost-edge), same method, query,
                                      body and content type, with `Authorization: Bearer
                                      <token>` added when a token is given; the answer goes
                                      back as it came (status, body, content type)

Anything else is a 404, logged. funweb's login (flask_login) is not reproduced: put this behind
whatever guards your admin pages. With a token the browser never sees it.

    python tests/python/funboost_web_manager.py --api http://127.0.0.1:3000 \
        [--token "$FUNBOOST_EDGE_API_TOKEN"] [--listen 127.0.0.1:8080]

Prints `listening on http://<addr>` once ready (port 0 picks a free port). Needs funboost and
Jinja2 in the same Python (tests/python/requirements.txt).

    python tests/python/funboost_web_manager.py --render timing_jobs_management.html

writes the rendered page and exits, for serving it from another web server (nginx: see
docs-pending/web-manager.md), and prints funweb's static directory to serve `/static/` from.
"""

import argparse
import http.client
import mimetypes
import os
import posixpath
import re
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jinja2

PAGE = "timing_jobs_management.html"
# Request headers passed on to funboost-edge (everything else, cookies included, stays here).
FORWARDED_HEADERS = ("content-type", "accept", "accept-language")
# Response headers passed back to the browser.
RETURNED_HEADERS = ("content-type", "www-authenticate")


def funweb_dir() -> Path:
    """funboost/funweb of the installed package, found without importing funboost (importing it
    writes a funboost_config.py into the working directory)."""
    import importlib.util

    spec = importlib.util.find_spec("funboost")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("funboost is not installed in this Python (pip install funboost==55.0)")
    path = Path(list(spec.submodule_search_locations)[0]) / "funweb"
    if not (path / "templates" / PAGE).is_file():
        sys.exit(f"{path / 'templates' / PAGE} not found: is this funboost 55?")
    return path


def static_url(filename: str) -> str:
    """Flask's `url_for('static', filename=...)`: werkzeug's path converter quotes the value
    and keeps a leading slash, so `/js/x.js` becomes `/static//js/x.js` (funweb's page has one;
    werkzeug then redirects it to `/static/js/x.js`, and so does this server)."""
    return "/static/" + urllib.parse.quote(filename, safe="!$&'()*+,/:;=@")


class Page:
    """The template rendered once, as funweb renders it (Flask's Jinja environment: autoescape
    for .html, `url_for` global). StrictUndefined: a template that needs more than `url_for`
    fails loudly here instead of rendering blanks."""

    def __init__(self, funweb: Path):
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(funweb / "templates")),
            autoescape=jinja2.select_autoescape(["html", "htm", "xml"]),
            undefined=jinja2.StrictUndefined,
        )

        def url_for(endpoint: str, **values) -> str:
            if endpoint != "static" or set(values) != {"filename"}:
                raise ValueError(f"the page calls url_for({endpoint!r}, {values!r}); only static files are served")
            return static_url(values["filename"])

        env.globals["url_for"] = url_for
        self.html = env.get_template(PAGE).render().encode("utf-8")


def make_handler(funweb: Path, page: Page, api: urllib.parse.SplitResult, token: str | None, quiet: bool):
    static_root = (funweb / "static").resolve()

    class Handler(BaseHTTPRequestHandler):
        server_version = "funboost-web-manager"

        def log_message(self, format, *args):  # noqa: A002 (BaseHTTPRequestHandler's name)
            if not quiet:
                sys.stderr.write("web-manager: %s\n" % (format % args))

        def do_GET(self):
            self.dispatch()

        def do_POST(self):
            self.dispatch()

        def do_DELETE(self):
            self.dispatch()

        def do_PUT(self):
            self.dispatch()

        def do_HEAD(self):
            self.dispatch()

        def dispatch(self):
            path, _, query = self.path.partition("?")
            if path.startswith("/funboost/") or path == "/funboost":
                return self.proxy(path, query)
            if self.command not in ("GET", "HEAD"):
                return self.reply(405, b"method not allowed\n", "text/plain; charset=utf-8")
            if path in ("/", "/index.html"):
                return self.redirect("/tpl/" + PAGE)
            if path == "/tpl/" + PAGE:
                return self.reply(200, page.html, "text/html; charset=utf-8")
            if path.startswith("/static/"):
                return self.static(path)
            return self.reply(404, f"not served here: {path} (see tests/python/funboost_web_manager.py)\n".encode(), "text/plain; charset=utf-8")

        def static(self, path: str):
            merged = re.sub("/{2,}", "/", path)
            if merged != path:  # werkzeug's merge_slashes: a 308 to the merged path
                return self.redirect(merged + (("?" + self.path.partition("?")[2]) if "?" in self.path else ""), status=308)
            relative = urllib.parse.unquote(path[len("/static/"):])
            normalized = posixpath.normpath("/" + relative).lstrip("/")
            file = (static_root / normalized).resolve()
            if static_root not in file.parents or not file.is_file():
                return self.reply(404, b"not found\n", "text/plain; charset=utf-8")
            kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/javascript",):
                kind += "; charset=utf-8"
            return self.reply(200, file.read_bytes(), kind, cache=True)

        def proxy(self, path: str, query: str):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {name: self.headers[name] for name in FORWARDED_HEADERS if self.headers.get(name)}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            target = api.path.rstrip("/") + path + (("?" + query) if query else "")
            connection_class = http.client.HTTPSConnection if api.scheme == "https" else http.client.HTTPConnection
            connection = connection_class(api.hostname, api.port, timeout=30)
            try:
                connection.request(self.command, target, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
                returned = [(name, answer.getheader(name)) for name in RETURNED_HEADERS if answer.getheader(name)]
            except OSError as e:
                message = f'{{"succ": false, "msg": "funboost-edge at {api.geturl()} is unreachable: {e}", "data": null}}'
                return self.reply(502, message.encode(), "application/json")
            finally:
                connection.close()
            self.send_response(answer.status)
            for name, value in returned:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def redirect(self, location: str, status: int = 302):
            self.send_response(status)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def reply(self, status: int, data: bytes, kind: str, cache: bool = False):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", help="funboost-edge's base URL, e.g. http://127.0.0.1:3000")
    parser.add_argument("--render", metavar="FILE", help="write the rendered page to FILE, print funweb's static directory and exit")
    parser.add_argument("--token", default=os.environ.get("FUNBOOST_EDGE_API_TOKEN"), help="funboost-edge's api_token (default: $FUNBOOST_EDGE_API_TOKEN)")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="host:port to serve on (port 0: any free port)")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args()

    funweb = funweb_dir()
    page = Page(funweb)
    if args.render:
        Path(args.render).write_bytes(page.html)
        print(funweb / "static")
        return
    api = urllib.parse.urlsplit(args.api or "")
    if api.scheme not in ("http", "https") or not api.hostname:
        sys.exit(f"--api must be an http(s) URL, not {args.api!r}")
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host.strip("[]") or "127.0.0.1", int(port)), make_handler(funweb, page, api, args.token or None, args.quiet))
    server.daemon_threads = True
    address, port = server.server_address[:2]
    print(f"listening on http://{address}:{port}", flush=True)
    print(f"funboost's page: http://{address}:{port}/tpl/{PAGE} (from {funweb}); /funboost/* -> {api.geturl()}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
