class Bee:
    def __init__(self, zs):
        self.buzz = "b" + "z" * zs


class Flower:
    def __init__(self, name, petals):
        self.name = name
        self.petals = petals

    def pluck(self):
        self.petals -= 1

    def sing(self):
        return f"{self.name} sways with {self.petals} petals"


def color():
    return "yellow"


def pluck(n):
    """Pluck twice.

    A longer docstring.
    """
    rval = n - 2
    return rval
