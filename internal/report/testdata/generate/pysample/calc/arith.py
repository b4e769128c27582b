def add(a, b):
    return a + b


def divide(a, b):
    if b == 0:
        raise ZeroDivisionError("divide by zero")
    return a / b


def clamp(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def never_called(x):
    total = 0
    for i in range(x):
        total += i
    return total
