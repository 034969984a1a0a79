"""Whole DHCP client frames as the DHCP benchmark's client writes them (by hand, with
struct: an implementation independent of @dragonflow/packet), for the frame locator's
tests. Run from the repository root: python3 packages/packet/test/capture/dhcp-frame-fixtures.py"""
import importlib.util
import json
import pathlib

root = pathlib.Path(__file__).resolve().parents[4]
spec = importlib.util.spec_from_file_location("client", root / "tools/bench/src/dhcp-client.py")
client = importlib.util.module_from_spec(spec)
spec.loader.exec_module(client)
mac = bytes.fromhex("fa163e10000a")
frames = {
    "discover": client.dhcp_frame(mac, 0x1234, 1),
    "request": client.dhcp_frame(mac, 0x1234, 3, requested=bytes([10, 1, 0, 10]), server=bytes([10, 1, 0, 2])),
}
out = root / "packages/packet/test/fixtures/dhcp-frames.json"
out.write_text(json.dumps({k: v.hex() for k, v in frames.items()}, indent=2) + "\n")
