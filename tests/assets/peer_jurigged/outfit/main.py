class Garment:
    def __init__(self, flair):
        self.flair = flair

    def swagger(self):
        return self.flair


class Hat(Garment):
    def swagger(self):
        return super(Hat, self).swagger() * 2
