#!/usr/bin/python3
"""Tools for the floating IP end-to-end test, run inside VMs and the outside namespace.

whoami ADDR PORT NAME   an HTTP server on ADDR:PORT answering "NAME sees CLIENT_IP"; prints "listening"
ttl DST TTL             one UDP datagram to DST:33435 with this TTL (scapy); prints the ICMP answer as
                        "icmp TYPE CODE from SRC quoting QSRC > QDST", or "timeout"
"""
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


def whoami(addr, port, name):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = f'{name} sees {self.client_address[0]}\n'.encode()
            self.send_response(200)
            self.send_header('Content-Type', 'text/plain')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer((addr, int(port)), Handler)
    print('listening', flush=True)
    server.serve_forever()


def ttl(dst, hops):
    from scapy.all import ICMP, IP, IPerror, UDP, conf, sr1
    conf.verb = 0
    answer = sr1(IP(dst=dst, ttl=int(hops)) / UDP(sport=33434, dport=33435), timeout=3)
    if answer is None or ICMP not in answer:
        print('timeout', flush=True)
        return
    quoted = answer[IPerror] if IPerror in answer else None
    q = f'{quoted.src} > {quoted.dst}' if quoted is not None else '?'
    print(f'icmp {answer[ICMP].type} {answer[ICMP].code} from {answer[IP].src} quoting {q}', flush=True)


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    {'whoami': whoami, 'ttl': ttl}[cmd](*args)
