"""Sends its stdin to a TCP or TLS server and prints what comes back (stdlib only).

Usage: python3 client.py HOST PORT [--cafile PEM --server-name NAME]

Plain TCP: sends all of stdin, half-closes (shutdown(SHUT_WR)) and prints
everything until the server closes. TLS (with --cafile, the only root trusted;
the certificate must be valid for NAME): sends all of stdin and prints as many
bytes as it sent (an echo), then closes; Python's ssl module has no half-close.
Plain sending runs on its own thread, so an echo of any size cannot deadlock.
TLS sends first and reads after: an SSLSocket must not be used from two
threads at once, so keep TLS echoes below the socket buffers (a few hundred KB).
"""
import socket
import ssl
import sys
import threading


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    args = sys.argv[3:]
    data = sys.stdin.buffer.read()
    sock = socket.create_connection((host, port), timeout=10)
    tls = "--cafile" in args
    if tls:
        ctx = ssl.create_default_context(cafile=args[args.index("--cafile") + 1])
        name = args[args.index("--server-name") + 1]
        sock = ctx.wrap_socket(sock, server_hostname=name)

    def send():
        sock.sendall(data)
        if not tls:
            sock.shutdown(socket.SHUT_WR)

    if tls:
        send()
        sender = threading.Thread(target=lambda: None)
    else:
        sender = threading.Thread(target=send)
    sender.start()
    out = bytearray()
    while not (tls and len(out) >= len(data)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        out += chunk
    sender.join()
    sock.close()
    sys.stdout.buffer.write(out)


main()
