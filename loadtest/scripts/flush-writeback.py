#!/usr/bin/env python3
"""What one small flush costs the disk, by how the file was zero-filled.

Zero-fills a 64 MiB file in DIR (as the journal prepares a segment) with
writes of 1 MiB or of one page, syncs it (and, in two more variants, drops
it from the page cache, then maps and reads it back as recovery does after
a reboot, or leaves it out of the cache), then appends SIZE-byte writes,
each followed by fdatasync, as the journal flushes lone batches. Prints the
median time of a write + flush and the bytes the kernel sent to the disk
for it (`write_bytes` of /proc/self/io). The page cache sizes a folio by the
write that created it, and writes back whole folios: on Linux 6.18's ext4,
zeros written 1 MiB at a time make every small flush write 1 MiB.

Usage: loadtest/scripts/flush-writeback.py [DIR] [FLUSHES]
DIR must be on the disk to measure (default: the current directory).
"""
import mmap
import os
import sys
import time

directory = sys.argv[1] if len(sys.argv) > 1 else "."
flushes = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
path = os.path.join(directory, "flush-writeback.tmp")
size_bytes = 64 << 20


def write_bytes():
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("write_bytes"):
                return int(line.split()[1])
    raise SystemExit("no write_bytes in /proc/self/io")


def zero_fill(chunk):
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY)
    zeros = b"\0" * chunk
    for _ in range(size_bytes // chunk):
        os.write(fd, zeros)
    os.fsync(fd)
    os.close(fd)


def drop_from_cache():
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def read_through_a_mapping():
    fd = os.open(path, os.O_RDONLY)
    with mmap.mmap(fd, 0, prot=mmap.PROT_READ) as mapping:
        for offset in range(0, size_bytes, 4096):
            mapping[offset]
    os.close(fd)


def measure(chunk, size, then=""):
    zero_fill(chunk)
    if then:
        drop_from_cache()
    if then == "mapped":
        read_through_a_mapping()
    fd = os.open(path, os.O_RDWR)
    data = b"y" * size
    before = write_bytes()
    times = []
    for i in range(flushes):
        start = time.perf_counter()
        os.pwrite(fd, data, i * size)
        os.fdatasync(fd)
        times.append(time.perf_counter() - start)
    written = write_bytes() - before
    os.close(fd)
    times.sort()
    how = {"": "", "dropped": ", dropped from the cache", "mapped": ", dropped, read back mapped"}[then]
    print(
        f"zeroed in {chunk // 1024:>4} KiB writes{how:<27}, {size:>5} B a flush: "
        f"p50 {times[len(times) // 2] * 1e6:4.0f} µs, {written / flushes / 1024:7.1f} KiB written a flush"
    )


try:
    for size in (600, 3000, 20000):
        for chunk in (1 << 20, 4096):
            measure(chunk, size)
        measure(1 << 20, size, "dropped")
        measure(1 << 20, size, "mapped")
finally:
    if os.path.exists(path):
        os.remove(path)
