def twist(fn):
    def knot(*args):
        return fn(*args) + 1

    return knot


@twist
@twist
@twist
def bake(x):
    return x + 10
