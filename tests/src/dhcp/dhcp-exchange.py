#!/usr/bin/python3
"""One DHCP client step with scapy, inside a VM's namespace (run with Debian's python3):
  dhcp-exchange.py IFACE MAC XID discover            -> prints the OFFER as JSON
  dhcp-exchange.py IFACE MAC XID request ADDR SERVER -> prints the ACK/NAK as JSON
Used to split an exchange around a controller restart, which a real client cannot be
told to wait for. Prints {"type": null} when nothing answers within 5 s.
"""
import json
import sys

from scapy.all import BOOTP, DHCP, IP, UDP, Ether, conf, srp1

conf.checkIPaddr = False
conf.verb = 0
iface, mac, xid, step = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
hw = bytes.fromhex(mac.replace(":", ""))
if step == "discover":
    opts = [("message-type", "discover"), ("param_req_list", [1, 3, 6, 26, 42, 121]), "end"]
else:
    opts = [("message-type", "request"), ("requested_addr", sys.argv[5]), ("server_id", sys.argv[6]), "end"]
pkt = (
    Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
    / IP(src="0.0.0.0", dst="255.255.255.255")
    / UDP(sport=68, dport=67)
    / BOOTP(chaddr=hw + b"\x00" * 10, xid=xid, flags=0x8000)
    / DHCP(options=opts)
)
ans = srp1(pkt, iface=iface, timeout=5)
if ans is None or DHCP not in ans:
    print(json.dumps({"type": None}))
    sys.exit(0)
names = {2: "OFFER", 5: "ACK", 6: "NAK"}
fields = {k: v for k, v in (o for o in ans[DHCP].options if isinstance(o, tuple) and len(o) == 2)}
print(json.dumps({
    "type": names.get(fields.get("message-type")),
    "xid": ans[BOOTP].xid,
    "yiaddr": ans[BOOTP].yiaddr,
    "server": fields.get("server_id"),
    "ntp": fields.get("NTP_server"),
}))
