#!/usr/bin/python3
"""Hops of single DHCP exchanges, from a `perf record` of bench:dhcp's latency run.

    DF_BENCH_PERF=/tmp/p DF_BENCH_EXCHANGES=2000 pnpm --filter @dragonflow/bench bench:dhcp
    perf script -i /tmp/p/dragonflow.data -F comm,tid,cpu,time,event,trace > ours.txt
    python3 src/dhcp-timeline.py ours.txt node [main thread id]
    perf script -i /tmp/p/ovn.data -F comm,tid,cpu,time,event,trace > ovn.txt
    python3 src/dhcp-timeline.py ovn.txt ovn_pinctrl0

Per exchange (the client's sendto of a DISCOVER or REQUEST to its recvfrom of the
answer): ovs-vswitchd's send of the packet-in, the controller's read of it and write of
the answer, the CPU the controller keeps after the write, ovs-vswitchd's write of the
answer to the client's port, the client's receive. Whether ovs-vswitchd took the answer
in the main-loop turn that sent the packet-in (answer written -> port write < 120 us),
or slept and needed a second turn (which polls every port first).
"""
import re
import statistics as st
import sys

LINE = re.compile(r"^\s*(\S+)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$")
READS = ("syscalls:sys_exit_read", "syscalls:sys_exit_recvfrom", "syscalls:sys_exit_recvmsg")
WRITES = ("syscalls:sys_enter_write", "syscalls:sys_enter_sendto", "syscalls:sys_enter_writev", "syscalls:sys_enter_sendmsg")


def events(path):
    out = []
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if m:
                comm, tid, _cpu, t, e, rest = m.groups()
                out.append((float(t) * 1e6, comm, int(tid), e, rest))
    return out


def exchanges(ev, ctl_comm, ctl_tid):
    def is_ctl(comm, tid):
        return comm == ctl_comm and (ctl_tid is None or tid == ctl_tid)

    res = []
    i, n = 0, len(ev)
    while i < n:
        t0, comm, _tid, e, _rest = ev[i]
        if not (comm == "python3" and e == "syscalls:sys_enter_sendto"):
            i += 1
            continue
        pin = crd = cwr = cend = tap = prx = None
        j = i + 1
        while j < n:
            t, c, tid, e, rest = ev[j]
            if c == "python3" and e == "syscalls:sys_enter_sendto":
                break
            if pin is None:
                if c == "ovs-vswitchd" and e in WRITES:
                    pin = t
            elif crd is None:
                if is_ctl(c, tid) and e in READS and not rest.startswith("0xfff"):
                    crd = t
            elif cwr is None:
                if is_ctl(c, tid) and e in WRITES:
                    cwr = t
            else:
                if cend is None and is_ctl(c, tid) and e == "sched:sched_switch":
                    cend = t
                if tap is None and c == "ovs-vswitchd" and e in WRITES:
                    tap = t
                elif tap is not None and c == "python3" and e == "syscalls:sys_exit_recvfrom" and not rest.startswith("0xfff"):
                    prx = t
                    break
            j += 1
        if prx is not None:
            res.append({"total": prx - t0, "to packet-in": pin - t0, "controller wakes": crd - pin, "controller read -> write": cwr - crd,
                        "controller after write": (cend or cwr) - cwr, "answer -> port write": tap - cwr, "port write -> client": prx - tap})
        i = j
    return res


def main():
    path, ctl_comm = sys.argv[1], sys.argv[2]
    ctl_tid = int(sys.argv[3]) if len(sys.argv) > 3 else None
    res = exchanges(events(path), ctl_comm, ctl_tid)
    if not res:
        print("no complete exchange found")
        return
    print(f"{len(res)} exchanges; p50 (p25-p75) in us:")
    for k in res[0]:
        xs = sorted(r[k] for r in res)
        print(f"  {k:28s} {st.median(xs):7.1f} ({xs[len(xs) // 4]:.0f}-{xs[3 * len(xs) // 4]:.0f})")
    same = [r for r in res if r["answer -> port write"] < 120]
    other = [r for r in res if r["answer -> port write"] >= 120]
    print(f"  answer taken in the packet-in's ovs-vswitchd turn: {len(same)} of {len(res)} ({100 * len(same) / len(res):.0f} %)")
    for name, part in (("same turn", same), ("second turn", other)):
        if part:
            resp = st.median(r["controller wakes"] + r["controller read -> write"] for r in part)
            print(f"    {name}: total p50 {st.median(r['total'] for r in part):.1f}, packet-in written -> answer written p50 {resp:.1f}")


if __name__ == "__main__":
    main()
