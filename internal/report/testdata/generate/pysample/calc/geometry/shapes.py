import math


def area(shape, size):
    if shape == "square":
        return size * size
    elif shape == "circle":
        return math.pi * size * size
    else:
        raise ValueError(f"unknown shape {shape!r}")


def describe(size):
    return "big" if size > 10 else "small"
