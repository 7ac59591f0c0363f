#!/usr/bin/env python3
"""SMTP server for the middlebox tests (tests/integration/middlebox.t).

usage: mb_smtpd.py HOST PORT MODE CERT KEY
MODE:
  tls        EHLO offers STARTTLS; 220, then a real TLS handshake (Python ssl)
  slow220    as tls, but the 220 to STARTTLS comes 20 ms late
  reset      EHLO offers STARTTLS; the server itself resets the connection on
             STARTTLS (SO_LINGER 0 then close: a RST from the server's stack)
  nostarttls EHLO without STARTTLS
Prints "ready" on stdout once listening. Runs inside a network namespace the
test created (10.77.0.0/16); refuses any other address."""
import socket, ssl, struct, sys, threading, time

host, port, mode, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
assert host.startswith("10.77.") or host.startswith("127."), "test namespaces or loopback only"
assert mode in ("tls", "slow220", "reset", "nostarttls")

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)


def serve(conn):
    conn.settimeout(20)
    f = conn.makefile("rb")
    try:
        conn.sendall(b"220 mx.mbox.test ESMTP middlebox-test\r\n")
        while True:
            line = f.readline(1024)
            if not line:
                return
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO"):
                caps = b"250-mx.mbox.test\r\n250-PIPELINING\r\n"
                caps += b"250-STARTTLS\r\n250 8BITMIME\r\n" if mode != "nostarttls" else b"250 8BITMIME\r\n"
                conn.sendall(caps)
            elif cmd.startswith(b"HELO"):
                conn.sendall(b"250 mx.mbox.test\r\n")
            elif cmd == b"STARTTLS" and mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                return
            elif cmd == b"STARTTLS" and mode in ("tls", "slow220"):
                if mode == "slow220":
                    time.sleep(0.02)  # before the delayed ACK (40 ms), which the client would answer with a RST
                conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                try:
                    t = ctx.wrap_socket(conn, server_side=True)
                    t.recv(1024)
                    t.close()
                except (ssl.SSLError, OSError):
                    pass
                return
            elif cmd == b"QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                conn.sendall(b"502 5.5.2 Error: command not recognized: \"" + line.strip()[:32] + b"\"\r\n")
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(64)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
