def hiss(n):
    return "s" * n
