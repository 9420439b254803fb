def answer():
    return "original"
