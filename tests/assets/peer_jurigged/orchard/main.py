import functools


def stamp(fn):
    return fn


@stamp
@stamp
def breakfast():
    """Serve apples.

    With more text below.
    """
    return "apples"


class Orchard:
    @staticmethod
    def count():
        return 3

    @classmethod
    def combine(cls, a, b):
        return a + b

    def harvest(self, x):
        y = x + 1
        return self.combine(y, y * y)

    class Shed:
        def store(self, item):
            return [item]


async def juggle(a, b):
    return (await a, await b)


def pomme():
    def inner():
        return "inner"

    return inner


def grafted(fn):
    @functools.wraps(fn)
    def branch(x, y):
        return fn(x * y)

    return branch


@grafted
def tree(z):
    return z**z


class FakeApple:
    @property
    def color(self):
        return self._color

    @color.setter
    def color(self, value):
        self._color = value


temporary = 12
del temporary
