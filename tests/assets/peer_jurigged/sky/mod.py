import math

east = 11; west = 22
dipper = [1, 2, 3]
polaris = 41


def vega(x):
    return math.ceil(x / 2)
