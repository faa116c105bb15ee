import math


class Frame:
    def __init__(self, span):
        self.span = span

    def area(self):
        return math.pi * self.span**2


def lift(wind):
    return wind * 3


class Sail:
    def __init__(self, span):
        self.span = span

    def perimeter(self):
        return 2 * math.pi * self.span

    def drag(self):
        return 0


def descend(wind):
    return wind / 3
