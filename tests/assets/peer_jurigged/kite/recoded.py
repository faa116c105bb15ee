def gust():
    return 0
import math


def lift(wind):
    return wind * 10


class Frame:
    def __init__(self, span):
        self.span = span

    def area(self):
        return math.pi * self.span**2


class Sail:
    def __init__(self, span):
        self.span = span

    def flutter(self):
        return "flap"

    def drag(self):
        return -1


def idle():
    return None
