"""Ends in the way its first argument names (the tests compare each with
plain python)."""

import os
import signal
import sys

how = sys.argv[1]
print("start", flush=True)
if how == "exit3":
    sys.exit(3)
elif how == "exit-message":
    sys.exit("bye bye")
elif how == "raise":
    def inner():
        raise ValueError("boom")
    inner()
elif how == "os-exit":
    print("unflushed", end="")
    os._exit(7)
elif how == "signal":
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGTERM)
elif how == "interrupt":
    raise KeyboardInterrupt
elif how == "syntax":
    exec(compile("def (", "<text>", "exec"))
elif how == "unclosed":
    # Flushed at exit by finalization: no data may be lost.
    handle = open(sys.argv[2], "w")
    handle.write("written but never closed\n")
elif how == "atexit":
    import atexit
    atexit.register(lambda: print("atexit ran", flush=True))
elif how == "del":
    class Noisy:
        def __del__(self):
            print("finalized", flush=True)
    keep = Noisy()
elif how == "thread":
    import threading, time
    def later():
        time.sleep(0.2)
        print("thread done", flush=True)
    threading.Thread(target=later).start()
print("end")
