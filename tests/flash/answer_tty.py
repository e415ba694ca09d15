#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal and answers its question.

Usage: answer_tty.py ANSWER COMMAND [ARG...]

flash.sh asks before it writes only when stdin is a terminal; this gives it
one, types ANSWER and Enter once the question appears, copies everything the
command prints to stdout, and exits with the command's exit status (after 60 s
the command is killed and the status is 124).
"""

import os
import pty
import select
import signal
import sys
import time

QUESTION = b"Type y to go on:"
TIMEOUT_S = 60


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    answer = sys.argv[1].encode() + b"\n"
    command = sys.argv[2:]

    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)

    seen = b""
    answered = False
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            print("answer_tty.py: timed out", file=sys.stderr)
            return 124
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            # EIO: the command has exited and the terminal is gone.
            break
        if not data:
            break
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        seen += data
        if not answered and QUESTION in seen:
            os.write(fd, answer)
            answered = True

    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
