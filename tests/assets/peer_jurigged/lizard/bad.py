x = this_name_is_not_defined(1)


def hiss(n):
    return "s" * n * 2
