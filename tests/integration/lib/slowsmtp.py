#!/usr/bin/env python3
"""A minimal SMTP responder for scanner tests: banner after DELAY seconds,
listening on HOSTS (comma-separated, or A.B.C.D+N for N consecutive last
octets) x PORTS (P or P-Q),
EHLO without STARTTLS, 221 to QUIT. Prints "ready" on stdout once listening
(the caller waits for that line, never sleeps). Stops by itself after
LIFETIME seconds. Loopback only."""
import asyncio, sys

def hosts_of(spec):
    out = []
    for part in spec.split(","):
        if "+" in part:
            base, n = part.split("+")
            a, b, c, d = map(int, base.split("."))
            out += [f"{a}.{b}.{c}.{d + i}" for i in range(int(n))]
        else:
            out.append(part)
    return out

hosts = hosts_of(sys.argv[1])
p = sys.argv[2].split("-")
ports = range(int(p[0]), int(p[-1]) + 1)
delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.2
lifetime = float(sys.argv[4]) if len(sys.argv) > 4 else 120
assert all(h.startswith("127.") or h == "::1" for h in hosts), "loopback only"

async def handle(r, w):
    try:
        await asyncio.sleep(delay)
        w.write(b"220 slow.example.test ESMTP\r\n")
        await w.drain()
        while True:
            line = await asyncio.wait_for(r.readline(), 30)
            if not line:
                break
            cmd = line[:4].upper()
            if cmd in (b"EHLO", b"HELO"):
                w.write(b"250-slow.example.test\r\n250 PIPELINING\r\n")
            elif cmd == b"QUIT":
                w.write(b"221 bye\r\n")
                await w.drain()
                break
            else:
                w.write(b"500 what\r\n")
            await w.drain()
    except Exception:
        pass
    finally:
        w.close()

async def main():
    srvs = [await asyncio.start_server(handle, h, port, backlog=1024) for h in hosts for port in ports]
    print("ready", flush=True)
    await asyncio.sleep(lifetime)
    for s in srvs:
        s.close()

asyncio.run(main())
