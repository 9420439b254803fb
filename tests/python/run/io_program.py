"""Input and output through the standard streams: large output, binary
data both ways, reading to the end, and a subprocess that inherits them."""

import subprocess
import sys

how = sys.argv[1]
if how == "large":
    for i in range(200000):
        print(f"line {i} " + "x" * 40)
elif how == "binary":
    data = sys.stdin.buffer.read()
    sys.stdout.buffer.write(bytes(reversed(data)))
elif how == "count":
    lines = sys.stdin.readlines()
    print(len(lines), sum(len(line) for line in lines))
elif how == "subprocess":
    print("parent before", flush=True)
    subprocess.run([sys.executable, "-c",
                    "import sys; print('child out'); "
                    "print('child err', file=sys.stderr); "
                    "print(sys.stdin.read().upper())"], check=True)
    print("parent after")
