#!/usr/bin/env python3
"""A STARTTLS-stripping proxy, as Cisco ASA/PIX "ESMTP inspection" behaves
(Durumeric et al., IMC 2015): in the server's EHLO reply STARTTLS becomes
XXXXXXXA, and a STARTTLS command from the client reaches the server as
XXXXXXXX. Runs in the middlebox namespace of tests/integration/middlebox.t,
behind an iptables REDIRECT, and relays to the real server.

usage: mb_strip.py LISTEN_HOST LISTEN_PORT SERVER_HOST SERVER_PORT
Prints "ready" on stdout once listening. Test namespaces (10.77.0.0/16) only."""
import socket, sys, threading

lh, lp, sh, sp = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
assert lh.startswith("10.77.") and sh.startswith("10.77."), "test namespaces only"


def pump(src, dst, old, new):
    try:
        while True:
            b = src.recv(4096)
            if not b:
                break
            dst.sendall(b.replace(old, new))
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(c):
    try:
        u = socket.create_connection((sh, sp), timeout=10)
    except OSError:
        c.close()
        return
    threading.Thread(target=pump, args=(u, c, b"STARTTLS", b"XXXXXXXA"), daemon=True).start()
    pump(c, u, b"STARTTLS", b"XXXXXXXX")


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((lh, lp))
s.listen(64)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
