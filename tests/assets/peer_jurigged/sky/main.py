north = 1; south = 2
polaris = 1000
dipper = [1, 2, 3]


def vega(x):
    return x * x
