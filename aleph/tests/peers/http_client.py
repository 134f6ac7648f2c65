"""An HTTP client aleph did not write: httpx (with h2) against an aleph server.

Usage: http_client.py URL CA_PEM [--http2] [--stream]
Prints the HTTP version, the status and the body; with --stream, each chunk
as it arrives on its own line, prefixed with "chunk: ".
"""
import sys

import httpx


def main():
    url, ca = sys.argv[1], sys.argv[2]
    http2 = "--http2" in sys.argv
    stream = "--stream" in sys.argv
    verify = ca if ca != "-" else False
    with httpx.Client(http2=http2, http1=not http2 or url.startswith("https"), verify=verify, timeout=10) as client:
        if stream:
            with client.stream("GET", url) as res:
                print(res.http_version)
                print(res.status_code)
                for chunk in res.iter_raw():
                    print("chunk:", chunk.decode())
        else:
            res = client.get(url)
            print(res.http_version)
            print(res.status_code)
            print(res.text)


if __name__ == "__main__":
    main()
