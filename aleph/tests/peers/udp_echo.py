"""A UDP peer for aleph's tests, over Python's `socket` module (stdlib only).

Usage:
  python3 udp_echo.py server HOST
      Binds HOST on a free port, prints the port on a line of its own, and
      sends every datagram back to its sender until it is killed.
  python3 udp_echo.py client HOST PORT MESSAGE...
      Sends each MESSAGE to HOST:PORT from one socket, waits (at most 5 s)
      for a reply after each and prints "SENDER_PORT REPLY", one a line.
"""
import socket
import sys


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def server(host):
    sock = socket.socket(family(host), socket.SOCK_DGRAM)
    sock.bind((host, 0))
    print(sock.getsockname()[1], flush=True)
    while True:
        data, peer = sock.recvfrom(65536)
        sock.sendto(data, peer)


def client(host, port, messages):
    sock = socket.socket(family(host), socket.SOCK_DGRAM)
    sock.settimeout(5)
    for message in messages:
        sock.sendto(message.encode(), (host, port))
        data, peer = sock.recvfrom(65536)
        print(peer[1], data.decode(), flush=True)


def main():
    mode = sys.argv[1]
    if mode == "server":
        server(sys.argv[2])
    elif mode == "client":
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    else:
        sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
