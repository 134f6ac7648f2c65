#!/usr/bin/env python3
"""An event stream written by Python's http.server, with every corner of the
format: a byte order mark, CR, LF and CRLF line ends, comments, a field
without a colon, retry, ids (one with NUL), and an event cut off at the end.

Usage: python3 sse_server.py PORT
Every request gets the same stream (HTTP/1.0, the body ends when the
connection closes), written in small pieces with flushes in between.
"""
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

STREAM = [
    b"\xef\xbb\xbf: written by python\r\n",
    b"retry: 2500\r\n",
    b"id: py-1\r\nevent: greeting\r\ndata: hello\r\ndata:  from python\r\n\r\n",
    b"data\n\n",
    b"id: bad\0id\rdata: keeps py-1\r\r",
    b"event: ignored without data\n\n",
    b"id: py-2\ndata: caf\xc3\xa9 \xe2\x98\x95\n\n",
    b"data: cut off by the end",
]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for piece in STREAM:
            # Split each piece to exercise lines cut across reads.
            half = len(piece) // 2
            self.wfile.write(piece[:half])
            self.wfile.flush()
            self.wfile.write(piece[half:])
            self.wfile.flush()

    def log_message(self, *args):
        pass


def main():
    port = int(sys.argv[1])
    server = HTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
