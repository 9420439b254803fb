import importlib.resources


def read():
    return importlib.resources.files("mypkg.sub").joinpath("data.txt").read_text()
