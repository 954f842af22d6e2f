#!/usr/bin/env python3
"""Parallel-efficiency model of `ioca run` at many ranks (docs/scaling.md).

Replays the runner's schedule (src/study/runner.cpp) with measured task times: a pool of the
tasks whose inputs exist (prepare tasks first, then sweeps from the largest, curves x
neurons), claimed one at a time from rank 0's counter by whichever rank is free; a rank that
finds the pool empty, or sees a checkpoint request (raised once checkpoint_interval seconds
have passed since the last write), finishes its task and joins the synchronisation; then the
new records are exchanged (allgather) and written as a checkpoint segment; sweeps of a
network enter the pool at the first synchronisation after its prepare task. The study ends
with the final compaction (every result read back and written once more).

Task times: lines "key<TAB>kind<TAB>seconds<TAB>bytes" from IOCA_TASK_TIMES (see
tests/bench/task_sizes.sh --save), each measured network replicated to the study's size.

Costs beyond one host are assumptions (the defaults below, stated in docs/scaling.md):
  claim      3 one-sided atomics on rank 0 per task (read the sync request, claim, count the
             task done), each ATOMIC_LATENCY, served one at a time at rank 0 at
             ATOMIC_RATE per second (a queue: a claim waits while the counter is busy);
  sync       an allgather of every new record's key and size (~113 bytes) to every rank:
             2 ceil(log2 P) x LATENCY + bytes / NET_BANDWIDTH, and every rank decodes every
             record (DECODE_SECONDS each, measured), plus ~10 small collectives for
             /provenance;
  write      a file: FILE_SECONDS (create, close, fsync, rename on a parallel file system) +
             80 collective metadata operations of ceil(log2 P) x LATENCY + the bytes at
             min(P x RANK_WRITE_BPS, FS_BPS); a compressed file (the final one, and
             checkpoint segments before they were plain) adds, per round of at most 4 MiB
             per rank, 26 collective writes of COLLECTIVE_CALL(P) each;
  final      the compaction reads everything back (at the same rates) and writes it
             compressed.
  load       each rank loads the data sets once (LOAD seconds, measured), not useful work.
"""
import argparse
import heapq
import math
from collections import defaultdict

# ---- assumptions (cluster) and one-host measurements; see docs/scaling.md
LATENCY = 5e-6            # s per step of a small collective (InfiniBand-class network)
NET_BANDWIDTH = 5e9       # B/s a rank receives in an allgather
ATOMIC_LATENCY = 3e-6     # s per MPI_Fetch_and_op + flush on rank 0 (RDMA atomics)
ATOMIC_RATE = 2e6         # atomics/s rank 0's network adapter serves
DECODE_SECONDS = 0.5e-6   # s per record to encode/decode a sync message (measured, 1 rank)
FILE_SECONDS = 0.05       # create, close, fsync, rename of one file on a parallel file system
RANK_WRITE_BPS = 230e6    # B/s one rank packs and writes (measured: plain segment, 1 rank)
FS_BPS = 5e9              # B/s the file system gives the job
ROUND = 4 << 20           # B of values per rank and round
TABLE_FACTOR_PLAIN = 1.38  # file bytes / result bytes, plain tables (measured, 5000-network kind)
TABLE_FACTOR_COMPRESSED = 1.0


def collective_call(p, per_call_1, per_doubling):
    """A collective write of a compressed table (parallel HDF5's filtered collective I/O)."""
    return per_call_1 + per_doubling * math.log2(max(p, 1))


def log2c(p):
    return math.ceil(math.log2(p)) if p > 1 else 0


def read_tasks(path):
    rows = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            key, kind, seconds, size = line.rstrip("\n").split("\t")
            parts = key.split("/")
            rows.append({"net": parts[1], "kind": kind, "rest": "/".join(parts[2:]),
                         "seconds": float(seconds), "bytes": int(size)})
    return rows


def replicate(rows, networks):
    """The measured networks repeated (in turn) up to `networks` networks."""
    by_net = defaultdict(list)
    for r in rows:
        by_net[r["net"]].append(r)
    names = sorted(by_net)
    tasks = []
    for i in range(networks):
        for r in sorted(by_net[names[i % len(names)]], key=lambda r: r["rest"]):
            tasks.append(dict(r, net=i))
    return tasks


def sweep_cost(task, hidden, random):
    scope, group = task["rest"].split("/")[1:3]
    neurons = sum(hidden) if scope == "network" else hidden[int(scope[5:])]
    return neurons * (random if group == "random" else 2)


class Costs:
    def __init__(self, a):
        self.a = a

    def sync(self, p, records):
        return (2 * log2c(p) * LATENCY + records * 113 / NET_BANDWIDTH + records * DECODE_SECONDS
                + 10 * log2c(p) * LATENCY)

    def write(self, p, records, result_bytes, compressed):
        a = self.a
        factor = TABLE_FACTOR_COMPRESSED if compressed else a.plain_factor
        size = result_bytes * factor
        t = FILE_SECONDS + 80 * log2c(p) * LATENCY + size / min(p * RANK_WRITE_BPS, FS_BPS)
        if compressed:
            rounds = max(1, math.ceil(result_bytes / p / ROUND))
            t += rounds * 26 * collective_call(p, a.call_1, a.call_doubling)
        return t

    def read(self, p, result_bytes, compressed):
        size = result_bytes * (TABLE_FACTOR_COMPRESSED if compressed else self.a.plain_factor)
        return size / min(p * RANK_WRITE_BPS, FS_BPS)


def simulate(tasks, p, a, costs, compressed_segments):
    nets_prepared = set()
    done = [False] * len(tasks)
    t = a.load  # every rank loads the data sets first
    last_write = t
    server_free = 0.0
    stats = defaultdict(float)
    stats["load"] = a.load
    syncs = 0
    while not all(done):
        pool = [i for i, x in enumerate(tasks) if not done[i] and (x["kind"] == "prepare" or x["net"] in nets_prepared)]
        prepares = [i for i in pool if tasks[i]["kind"] == "prepare"]
        sweeps = sorted((i for i in pool if tasks[i]["kind"] == "sweep"),
                        key=lambda i: -sweep_cost(tasks[i], a.hidden, a.random))
        pool = prepares + sweeps
        free = [(t, r) for r in range(p)]
        heapq.heapify(free)
        request = math.inf
        finish = [t] * p
        k = 0
        busy = 0.0
        claim_wait = 0.0
        while k < len(pool) and free:
            ft, r = heapq.heappop(free)
            if ft >= request:
                finish[r] = ft
                continue
            # The claim: 3 atomics on rank 0's counter, served one at a time.
            start = max(ft, server_free)
            server_free = start + 3 / ATOMIC_RATE
            claimed = start + 3 * ATOMIC_LATENCY
            claim_wait += claimed - ft
            x = tasks[pool[k]]
            end = claimed + x["seconds"]
            busy += x["seconds"]
            done[pool[k]] = True
            k += 1
            finish[r] = end
            if end - last_write > a.interval and request == math.inf:
                request = end
            heapq.heappush(free, (end, r))
        while free:
            ft, r = heapq.heappop(free)
            finish[r] = ft
        end = max(finish)
        stats["pools"] += end - t
        stats["claim_wait"] += claim_wait / p
        stats["idle"] += (end - t) * p - busy - claim_wait
        new = [pool[i] for i in range(k)]
        records = len(new)
        result_bytes = sum(tasks[i]["bytes"] for i in new)
        s = costs.sync(p, records)
        w = costs.write(p, records, result_bytes, compressed_segments) if records else 0.0
        stats["sync"] += s
        stats["write"] += w
        stats["checkpoint_bytes"] += result_bytes * (TABLE_FACTOR_COMPRESSED if compressed_segments else a.plain_factor)
        syncs += 1
        t = end + s + w
        last_write = t
        for i in new:
            if tasks[i]["kind"] == "prepare":
                nets_prepared.add(tasks[i]["net"])
    total_bytes = sum(x["bytes"] for x in tasks)
    final = costs.read(p, total_bytes, compressed_segments) + costs.write(p, len(tasks), total_bytes, True)
    stats["final"] = final
    wall = t + final
    compute = sum(x["seconds"] for x in tasks)
    mean = compute / len(tasks)
    stats.update(wall=wall, compute=compute, efficiency=compute / (p * wall), syncs=syncs,
                 demand=p / (mean + 3 * ATOMIC_LATENCY), rho=3 * p / (mean + 3 * ATOMIC_LATENCY) / ATOMIC_RATE)
    return stats


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("times", help="task lines from IOCA_TASK_TIMES (task_sizes.sh --save)")
    ap.add_argument("--networks", type=int, required=True, help="networks of the modelled study")
    ap.add_argument("--hidden", default="200,200", help="hidden widths (the pool's order)")
    ap.add_argument("--random", type=int, default=20, help="random orders per scope")
    ap.add_argument("--interval", type=float, default=120, help="checkpoint_interval, s")
    ap.add_argument("--load", type=float, default=0.0, help="data loading per rank, s")
    ap.add_argument("--ranks", default="64,256,1024")
    ap.add_argument("--call-1", type=float, default=0.3e-3,
                    help="s per collective compressed-table write at 1 rank (one-host fit)")
    ap.add_argument("--call-doubling", type=float, default=2.5e-3,
                    help="s added per doubling of ranks (one-host fit of 1-16 ranks)")
    ap.add_argument("--plain-factor", type=float, default=TABLE_FACTOR_PLAIN)
    ap.add_argument("--compressed-segments", action="store_true", help="checkpoint segments as before: compressed, collective")
    a = ap.parse_args()
    a.hidden = [int(w) for w in a.hidden.split(",")]
    tasks = replicate(read_tasks(a.times), a.networks)
    costs = Costs(a)
    print(f"{a.networks} networks, {len(tasks)} tasks "
          f"({sum(x['kind'] == 'prepare' for x in tasks)} prepare), compute {sum(x['seconds'] for x in tasks):.0f} s, "
          f"results {sum(x['bytes'] for x in tasks) / 1e6:.0f} MB; segments {'compressed' if a.compressed_segments else 'plain'}")
    print("| ranks | wall s | efficiency | compute/ranks s | idle (imbalance) s | claim wait s | sync s | "
          "checkpoint write s | final file s | load s | syncs | claims/s demanded | counter load |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for p in [int(x) for x in a.ranks.split(",")]:
        s = simulate(tasks, p, a, costs, a.compressed_segments)
        print(f"| {p} | {s['wall']:.1f} | {100 * s['efficiency']:.0f}% | {s['compute'] / p:.2f} | "
              f"{s['idle'] / p:.2f} | {s['claim_wait']:.3f} | {s['sync']:.3f} | {s['write']:.2f} | "
              f"{s['final']:.2f} | {s['load']:.1f} | {s['syncs']} | {s['demand']:.0f} | {100 * s['rho']:.0f}% |")


if __name__ == "__main__":
    main()
