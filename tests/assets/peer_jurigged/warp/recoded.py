def alpha():
    return 1


def beta():
    return 200


def gamma():
    return 3
