class Flower:
    def __init__(self, name):
        self.name = name

    def sing(self):
        return f"{self.name} sways"

    def check(self):
        return "check"


def pluck(n):
    return n - 1


def plack():
    return True
