import sys

def main():
    print("tool ran as", __name__, __spec__.name)

if __name__ == "__main__":
    main()
