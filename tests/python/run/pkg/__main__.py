import sys
print("module", __name__, __spec__.name, sys.argv, __file__.endswith("__main__.py"))
