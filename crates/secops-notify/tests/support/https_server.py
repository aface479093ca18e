"""A real HTTPS listener for secops-notify's webhook tests (Python's own
http.server wrapped in ssl).

usage: https_server.py OUTDIR CERT KEY
Binds 127.0.0.1 on a free port, prints the port on stdout, answers every
POST with 200 and saves it as OUTDIR/<n>.json: {"path", "body"}. A client
that refuses the certificate never gets that far: nothing is saved.
"""

import http.server
import json
import os
import ssl
import sys

outdir, cert, key = sys.argv[1:4]
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        count += 1
        path = os.path.join(outdir, "%04d.json" % count)
        with open(path + ".tmp", "w") as f:
            json.dump({"path": self.path, "body": body}, f)
        os.rename(path + ".tmp", path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
