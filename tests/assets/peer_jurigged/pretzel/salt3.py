def twist(fn):
    def knot(*args):
        return fn(*args) + 3

    return knot


@twist
@twist
def bake(x):
    return x
