"""A TCP-to-UNIX-socket relay: schemathesis speaks HTTP over TCP only, dlad over its UNIX socket.

Usage: python unix_proxy.py SOCKET PORT_FILE
Listens on 127.0.0.1 on a free port, writes the port to PORT_FILE once listening, and copies
bytes both ways, unchanged, one UNIX connection per TCP connection (so keep-alive, pipelining,
`Expect: 100-continue` and early refusals reach dlad's HTTP layer exactly as sent). Runs until
killed.
"""

import asyncio
import os
import sys


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass


async def relay(socket_path: str, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
    try:
        server_reader, server_writer = await asyncio.open_unix_connection(socket_path)
    except OSError as error:
        print(f"unix_proxy: cannot connect to {socket_path}: {error}", file=sys.stderr)
        client_writer.close()
        return
    await asyncio.gather(pump(client_reader, server_writer), pump(server_reader, client_writer))
    for writer in (server_writer, client_writer):
        writer.close()


async def main(socket_path: str, port_file: str) -> None:
    server = await asyncio.start_server(lambda r, w: relay(socket_path, r, w), host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    temporary = port_file + ".tmp"
    with open(temporary, "w") as file:
        file.write(f"{port}\n")
    os.replace(temporary, port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: unix_proxy.py SOCKET PORT_FILE")
    asyncio.run(main(sys.argv[1], sys.argv[2]))
