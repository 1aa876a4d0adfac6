#!/usr/bin/env python3
"""The floor under `render`: only create N files of SIZE bytes in a new folder OUT, one thread.

Usage: create_files.py N OUT SIZE

Each file is opened with O_CREAT relative to the folder, written once and closed, as lettermerge's
writer does (`r-000001.md` ...). Its system time is what the kernel alone needs for the files
a render writes, on that disk at that moment; bench/render.sh runs it between the renders.
"""
import os
import sys


def main():
    n, out, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    os.makedirs(out)
    data = b"x" * size
    folder = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for i in range(1, n + 1):
        fd = os.open(f"r-{i:06d}.md", flags, 0o644, dir_fd=folder)
        os.write(fd, data)
        os.close(fd)
    print(f"created {n} files of {size} bytes in {out}")


if __name__ == "__main__":
    main()
