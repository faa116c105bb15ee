class Rememberer:
    def __init__(self):
        self.funcs = []

    def register(self, fn):
        self.funcs.append(fn)
        return self

    def __call__(self, *args):
        return [fn(*args) for fn in self.funcs]


activities = Rememberer()


@activities.register
def do(x):
    return f"Eat {x} plums"
