"""A module the test servers preload: it records the server's process id
and leaves state at import time that programs must not see changed."""

import os
import random

SERVER_PID = os.getpid()
IMPORTED_WITH = os.environ.get("WARM_MARK", "unset")
FIRST_RANDOM = random.random()


def answer() -> int:
    return 1
