#!/usr/bin/env python3
"""A git server for Slipway's tests: smart HTTP over HTTPS, with Basic auth.

Serves the bare repositories under a directory through `git http-backend`
(run as CGI, one process per request) on 127.0.0.1, port 0, over TLS with
the given certificate and key. Every request must carry HTTP Basic
credentials whose password is the expected token (any user name); others
get 401 with a `WWW-Authenticate` challenge, as a git host answers.

    git-http-server.py ROOT CERT KEY TOKEN_FILE

The token is read from TOKEN_FILE, never from the command line (which
other users of the machine can read). Prints `port <n>` on its first
line of standard output once it listens, then one line per request:
`request <method> <path> user=<name or ->`. It runs until it is killed.
"""

import base64
import hmac
import http.server
import os
import ssl
import subprocess
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = ""
    token = b""
    backend = ""

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.serve()

    def do_POST(self):
        self.serve()

    def authorized_user(self):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).partition(b":")
        except ValueError:
            return None
        if not hmac.compare_digest(password, self.token):
            return None
        return user.decode("utf-8", "replace")

    def read_body(self):
        """The request body: by its length, or chunked (git sends large
        requests chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def serve(self):
        path, _, query = self.path.partition("?")
        user = self.authorized_user()
        print(f"request {self.command} {path} user={user or '-'}", flush=True)
        body = self.read_body()
        if user is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="slipway-test"')
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "13")
            self.end_headers()
            self.wfile.write(b"unauthorized\n")
            return
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0],
        }
        if self.headers.get("Git-Protocol"):
            environment["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if self.headers.get("Content-Encoding"):
            environment["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        result = subprocess.run(
            [self.backend], input=body, env=environment, stdout=subprocess.PIPE, check=False)
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = result.stdout.partition(b"\n\n")
        status = 200 if result.returncode == 0 else 500
        headers = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split(" ")[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main():
    root, certificate, key, token_file = sys.argv[1:5]
    Handler.root = root
    with open(token_file, "rb") as file:
        Handler.token = file.read().strip()
    Handler.backend = subprocess.run(
        ["git", "--exec-path"], stdout=subprocess.PIPE, check=True, text=True
    ).stdout.strip() + "/git-http-backend"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
