#!/usr/bin/python3
"""DHCPv4 client load for bench:dhcp (tools/bench/src/dhcp.ts runs it in the switch's namespace).

One packet socket per interface (the kernel side of an Open vSwitch internal port), DHCP
frames written by hand (struct, no scapy: its per-packet cost would be what is measured).
Reads a JSON job on stdin, prints a JSON result on stdout:

  {"ifaces": [{"name": "dp0", "mac": "fa:16:3e:..."}], "mode": "latency", "count": 500}
    -> one client on the first interface, `count` DISCOVER/REQUEST exchanges one after the
       other; per exchange the time from the DISCOVER's send() to the OFFER's recv(), and
       from the REQUEST's send() to the ACK's recv(), in ms.
  {"ifaces": [...], "mode": "throughput", "count": 5}
    -> every interface runs `count` leases (DISCOVER->OFFER->REQUEST->ACK) back to back,
       all interfaces at once; a message unanswered for 1 s is sent again (counted).
"""
import json
import os
import select
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
RETRY_S = 1.0
DEADLINE_S = 120.0


def checksum(data):
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def dhcp_frame(mac, xid, msg_type, requested=None, server=None):
    """A broadcast client message from `mac` (IPv4 0.0.0.0 -> 255.255.255.255, UDP 68 -> 67)."""
    opts = bytes([53, 1, msg_type])
    if requested is not None:
        opts += bytes([50, 4]) + requested
    if server is not None:
        opts += bytes([54, 4]) + server
    opts += bytes([55, 4, 1, 3, 6, 26, 255])
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s4s", 1, 1, 6, 0, xid, 0, 0x8000, b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, mac + b"\0" * 10, b"", b"", b"\x63\x82\x53\x63") + opts
    bootp += b"\0" * max(0, 300 - len(bootp))
    udp = struct.pack("!HHHH", 68, 67, 8 + len(bootp), 0) + bootp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b"\0" * 4, b"\xff" * 4)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\xff" * 6 + mac + struct.pack("!H", ETH_P_IP) + ip + udp


def parse_reply(frame):
    """(xid, message type, yiaddr, server id) of a DHCP server message, else None."""
    if len(frame) < 14 + 20 + 8 + 240 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    ihl = (frame[14] & 0x0F) * 4
    udp = 14 + ihl
    if frame[udp + 2 : udp + 4] != b"\x00\x44":  # to port 68
        return None
    b = udp + 8
    if frame[b] != 2:  # BOOTREPLY (our own requests are seen as outgoing, op 1)
        return None
    xid = struct.unpack_from("!I", frame, b + 4)[0]
    yiaddr = frame[b + 16 : b + 20]
    i = b + 240
    msg_type = None
    server = None
    while i < len(frame) and frame[i] != 255:
        code = frame[i]
        if code == 0:
            i += 1
            continue
        n = frame[i + 1]
        if code == 53:
            msg_type = frame[i + 2]
        elif code == 54:
            server = frame[i + 2 : i + 2 + n]
        i += 2 + n
    return xid, msg_type, yiaddr, server


class Client:
    """One interface's client: its socket and the lease it is working on."""

    def __init__(self, index, name, mac):
        self.mac = bytes.fromhex(mac.replace(":", ""))
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        self.sock.bind((name, ETH_P_IP))
        self.sock.setblocking(False)
        self.base = (index + 1) << 20
        self.seq = 0
        self.state = None  # 'offer' or 'ack': what is awaited
        self.frame = b""
        self.sent = 0.0
        self.xid = 0

    def send(self, frame, state):
        self.frame = frame
        self.state = state
        self.sent = time.perf_counter()
        self.sock.send(frame)

    def discover(self):
        self.seq += 1
        self.xid = self.base + self.seq
        self.send(dhcp_frame(self.mac, self.xid, 1), "offer")

    def drain(self):
        """The replies waiting on the socket, parsed."""
        out = []
        while True:
            try:
                frame = self.sock.recv(2048)
            except BlockingIOError:
                return out
            r = parse_reply(frame)
            if r is not None and r[0] == self.xid:
                out.append(r)


def latency(clients, count):
    c = clients[0]
    poller = select.epoll()
    poller.register(c.sock.fileno(), select.EPOLLIN)
    offer, ack = [], []
    lost = 0
    for _ in range(count):
        c.discover()
        got = wait_for(c, poller, 2)
        if got is None:
            lost += 1
            continue
        offer.append((got[0] - c.sent) * 1000)
        c.send(dhcp_frame(c.mac, c.xid, 3, requested=got[1][2], server=got[1][3]), "ack")
        got = wait_for(c, poller, 5)
        if got is None:
            lost += 1
            continue
        ack.append((got[0] - c.sent) * 1000)
    return {"offer": offer, "ack": ack, "lost": lost}


def wait_for(c, poller, msg_type):
    end = c.sent + RETRY_S
    while True:
        left = end - time.perf_counter()
        if left <= 0:
            return None
        if poller.poll(left):
            now = time.perf_counter()
            for r in c.drain():
                if r[1] == msg_type:
                    return now, r


def throughput(clients, count):
    poller = select.epoll()
    by_fd = {}
    for c in clients:
        poller.register(c.sock.fileno(), select.EPOLLIN)
        by_fd[c.sock.fileno()] = c
    done = {id(c): 0 for c in clients}
    retransmits = 0
    naks = 0
    leases = 0
    active = len(clients)
    start = time.perf_counter()
    for c in clients:
        c.discover()
    last_check = start
    while active:
        now = time.perf_counter()
        if now - start > DEADLINE_S:
            break
        for fd, _ in poller.poll(0.1):
            c = by_fd[fd]
            for r in c.drain():
                if c.state == "offer" and r[1] == 2:
                    c.send(dhcp_frame(c.mac, c.xid, 3, requested=r[2], server=r[3]), "ack")
                elif c.state == "ack" and r[1] in (5, 6):
                    if r[1] == 6:
                        naks += 1
                    else:
                        leases += 1
                    done[id(c)] += 1
                    if done[id(c)] < count:
                        c.discover()
                    else:
                        c.state = None
                        active -= 1
        now = time.perf_counter()
        if now - last_check > 0.1:
            last_check = now
            for c in clients:
                if c.state is not None and now - c.sent > RETRY_S:
                    retransmits += 1
                    c.send(c.frame, c.state)
    elapsed = time.perf_counter() - start
    return {"leases": leases, "naks": naks, "seconds": elapsed, "retransmits": retransmits, "unfinished": active}


def main():
    job = json.load(sys.stdin)
    clients = [Client(i, f["name"], f["mac"]) for i, f in enumerate(job["ifaces"])]
    cpu0 = os.times()
    result = latency(clients, job["count"]) if job["mode"] == "latency" else throughput(clients, job["count"])
    cpu1 = os.times()
    result["clientCpuSeconds"] = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
