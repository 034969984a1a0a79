#!/bin/bash
# Flow-mod rate into a userspace ovs-vswitchd with N dummy ports, over 1 vs K OpenFlow connections.
# What bounds it: ovs-vswitchd reads at most 50 OpenFlow messages per connection per main-loop turn
# (ofconn_run in ofproto/connmgr.c), and a turn does work per port. Usage (heavy: take the lock):
#   flock /tmp/df-heavy.lock env N=10000 FLOWS=1000 K=4 tools/bench/src/ofconn-fanout.sh
set -e
N=${N:-10000}; FLOWS=${FLOWS:-1000}; K=${K:-4}
D=$(mktemp -d /tmp/df-ofconn-fanout.XXXX); trap 'kill $(cat $D/vs.pid $D/ovsdb.pid 2>/dev/null) 2>/dev/null; rm -rf $D' EXIT; export OVS_RUNDIR=$D OVS_LOGDIR=$D OVS_DBDIR=$D
ovsdb-tool create $D/conf.db /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server $D/conf.db --remote=punix:$D/db.sock --pidfile=$D/ovsdb.pid --detach --log-file=$D/ovsdb.log
export DB=unix:$D/db.sock
ovs-vsctl --db=$DB --no-wait init
ovs-vswitchd $DB --enable-dummy --pidfile=$D/vs.pid --detach --log-file=$D/vs.log
ovs-vsctl --db=$DB add-br br0 -- set bridge br0 datapath_type=netdev fail_mode=secure protocols=OpenFlow13
python3 - "$N" "$D" <<'PY'
import json,sys
n=int(sys.argv[1]); d=sys.argv[2]
for c in range(0,n,200):
    ops=["Open_vSwitch"]; ports=[]
    for i in range(c,min(n,c+200)):
        ops.append({"op":"insert","table":"Interface","row":{"name":f"d{i}","type":"dummy","ofport_request":i+1},"uuid-name":f"i{i}"})
        ops.append({"op":"insert","table":"Port","row":{"name":f"d{i}","interfaces":["named-uuid",f"i{i}"]},"uuid-name":f"p{i}"})
        ports.append(["named-uuid",f"p{i}"])
    ops.append({"op":"mutate","table":"Bridge","where":[["name","==","br0"]],"mutations":[["ports","insert",["set",ports]]]})
    open(f"{d}/ports.{c:06d}.json","w").write(json.dumps(ops))
PY
for f in $D/ports.*.json; do ovsdb-client transact $DB "$(cat $f)" > /dev/null; done
S0=$(date +%s)
for t in $(seq 1 600); do c=$(ovs-vsctl --db=$DB --bare --columns=ofport find Interface type=dummy | grep -c '^[0-9]' || true); [ "$c" -ge "$N" ] && break; sleep 1; done
echo "ports up: $c after $(( $(date +%s) - S0 ))s"
python3 - "$FLOWS" "$N" > $D/flows.txt <<'PY'
import sys
f=int(sys.argv[1]); n=int(sys.argv[2])
for i in range(f):
    p=i%n+1
    print(f"table={i%5},priority={100+i//n},in_port={p},dl_src=fa:16:3e:{(i>>16)&255:02x}:{(i>>8)&255:02x}:{i&255:02x},actions=goto_table:{i%5+1}")
PY
split -n l/$K $D/flows.txt $D/part.
S=$(date +%s.%N); ovs-ofctl -O OpenFlow13 add-flows br0 $D/flows.txt; E=$(date +%s.%N)
echo "1 connection: $FLOWS flows in $(echo "$E - $S" | bc) s"
ovs-ofctl -O OpenFlow13 del-flows br0
sleep 2
S=$(date +%s.%N); for f in $D/part.*; do ovs-ofctl -O OpenFlow13 add-flows br0 $f & done; wait; E=$(date +%s.%N)
echo "$K connections: $FLOWS flows in $(echo "$E - $S" | bc) s"
echo "flows now: $(ovs-ofctl -O OpenFlow13 dump-aggregate br0)"

