#!/usr/bin/python3
"""Prints DHCPv4 fixtures made by scapy (an independent implementation) as JSON:
the UDP payloads the packet codec's tests decode, and re-encode byte for byte.
Run with Debian's python3 (python3-scapy):
  /usr/bin/python3 packages/packet/test/capture/dhcp-fixtures.py > packages/packet/test/fixtures/dhcp-scapy.json
"""
import json
from scapy.all import BOOTP, DHCP, conf

conf.verb = 0
mac = bytes.fromhex("fa163e000001") + b"\x00" * 10

def hexof(pkt):
    return bytes(pkt).hex()

discover = BOOTP(op=1, xid=0x12345678, flags=0x8000, chaddr=mac) / DHCP(options=[
    ("message-type", "discover"),
    ("client_id", b"\x01" + bytes.fromhex("fa163e000001")),
    ("param_req_list", [1, 3, 6, 15, 26, 28, 51, 54, 121]),
    ("hostname", b"vm1"),
    "end",
])

offer = BOOTP(op=2, xid=0x12345678, flags=0x8000, yiaddr="10.0.0.5", siaddr="10.0.0.2", chaddr=mac) / DHCP(options=[
    ("message-type", "offer"),
    ("server_id", "10.0.0.2"),
    ("lease_time", 86400),
    ("renewal_time", 43200),
    ("rebinding_time", 75600),
    ("subnet_mask", "255.255.255.0"),
    ("router", "10.0.0.1"),
    ("name_server", "8.8.8.8", "1.1.1.1"),
    ("domain", b"openstacklocal"),
    ("interface-mtu", 1450),
    ("classless_static_routes", "169.254.169.254/32:10.0.0.2", "0.0.0.0/0:10.0.0.1"),
    "end",
])

request = BOOTP(op=1, xid=0x0badcafe, ciaddr="10.0.0.5", chaddr=mac) / DHCP(options=[
    ("message-type", "request"),
    ("requested_addr", "10.0.0.5"),
    ("server_id", "10.0.0.2"),
    "end",
])

print(json.dumps({
    "discover": hexof(discover),
    "offer": hexof(offer),
    "request": hexof(request),
}, indent=2))
