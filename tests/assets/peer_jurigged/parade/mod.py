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
    return f"Paint {x} walls"


@activities.register
def do(x):
    return f"Sing {x * 2} songs"


@activities.register
def do(x):
    return f"Dance for {x} hours"
