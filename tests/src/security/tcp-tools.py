#!/usr/bin/python3
"""Real TCP servers and clients for the security group end-to-end test, run inside VMs.

serve PORT...                       line echo servers on PORT...; prints "listening" when all are up
probe HOST PORT                     connect, send a line, print "ok" on its echo, "timeout"/"error ..." otherwise
session HOST PORT SRCPORT FLAGFILE  one long-lived connection: a line and its echo ("first ok"), then, once
                                    FLAGFILE exists, another line: "second ok" or "second timeout"
spoof SRC DST SPORT DPORT           one TCP PSH+ACK packet with this 4-tuple (scapy), as a reply would look
"""
import os
import socket
import sys
import threading
import time


def serve(ports):
    def handle(conn):
        with conn:
            f = conn.makefile('rb')
            for line in f:
                conn.sendall(line)

    def accept(s):
        while True:
            conn, _ = s.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('0.0.0.0', int(p)))
        s.listen(16)
        threading.Thread(target=accept, args=(s,), daemon=True).start()
    print('listening', flush=True)
    while True:
        time.sleep(3600)


def exchange(s, text, timeout):
    s.settimeout(timeout)
    s.sendall(text.encode() + b'\n')
    got = b''
    try:
        while not got.endswith(b'\n'):
            chunk = s.recv(4096)
            if not chunk:
                return 'closed'
            got += chunk
    except socket.timeout:
        return 'timeout'
    return 'ok' if got.decode().strip() == text else 'wrong ' + got.decode().strip()


def probe(host, port):
    try:
        s = socket.create_connection((host, int(port)), timeout=3)
    except socket.timeout:
        print('timeout', flush=True)
        return
    except OSError as e:
        print('error', e.strerror, flush=True)
        return
    print(exchange(s, 'probe', 3), flush=True)


def session(host, port, srcport, flag):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if int(srcport) > 0:
        s.bind(('0.0.0.0', int(srcport)))
    s.settimeout(5)
    s.connect((host, int(port)))
    print('first', exchange(s, 'first', 5), flush=True)
    deadline = time.time() + 180
    while not os.path.exists(flag):
        if time.time() > deadline:
            print('second never asked', flush=True)
            return
        time.sleep(0.1)
    print('second', exchange(s, 'second', 4), flush=True)


def spoof(src, dst, sport, dport):
    from scapy.all import IP, TCP, send  # noqa: E402 (scapy is slow to import; only this mode needs it)
    send(IP(src=src, dst=dst) / TCP(sport=int(sport), dport=int(dport), flags='PA', seq=1000, ack=1000) / b'spoofed\n', verbose=False)
    print('sent', flush=True)


if __name__ == '__main__':
    mode, args = sys.argv[1], sys.argv[2:]
    {'serve': lambda: serve(args), 'probe': lambda: probe(*args), 'session': lambda: session(*args), 'spoof': lambda: spoof(*args)}[mode]()
