#!/usr/bin/env python3
"""A TCP proxy that holds every chunk a client sends for DELAY seconds before passing it on:
S3's request latency in front of a local S3-compatible server (bench/s3-serve), for seeing
how much of it a query hides.

    bench/latency_proxy.py LISTEN_PORT SERVER_PORT DELAY_SECONDS
"""

import asyncio
import sys

LISTEN, TARGET_HOST, TARGET_PORT, DELAY = int(sys.argv[1]), "127.0.0.1", int(sys.argv[2]), float(sys.argv[3])
async def pipe(reader, writer, delay):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if delay:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()
async def handle(cr, cw):
    sr, sw = await asyncio.open_connection(TARGET_HOST, TARGET_PORT)
    await asyncio.gather(pipe(cr, sw, DELAY), pipe(sr, cw, 0))
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", LISTEN)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
