import sys
print("tool", __name__, __spec__.name, sys.argv[1:], sys.path[0] == __import__("os").getcwd())
raise SystemExit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
