"""A TCP or TLS echo server that aleph's tests run as a peer (Python stdlib only).

Usage: python3 echo_server.py PORT [--tls CERTDIR [--mtls]]

Echoes every byte back. When the client ends its sending side (a FIN, or a TLS
close_notify) it writes what is left, then closes: a half-closing client loses
nothing. With --tls it serves CERTDIR/server-chain.pem and server.key (made by
gen-certs.sh); with --mtls it also requires a client certificate signed by
CERTDIR/ca.pem. Prints "listening on PORT" once it accepts connections.
"""
import asyncio
import ssl
import sys


async def echo(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


def tls_context(certdir, mtls):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(f"{certdir}/server-chain.pem", f"{certdir}/server.key")
    if mtls:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(f"{certdir}/ca.pem")
    return ctx


async def main():
    port = int(sys.argv[1])
    args = sys.argv[2:]
    ctx = None
    if "--tls" in args:
        ctx = tls_context(args[args.index("--tls") + 1], "--mtls" in args)
    server = await asyncio.start_server(echo, "127.0.0.1", port, ssl=ctx)
    print(f"listening on {port}", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
