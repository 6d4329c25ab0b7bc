"""A tiny calculator for the coding-agent demo."""


def add(a, b):
    return a + b


def sub(a, b):
    return a + b  # bug: should be a - b


def mul(a, b):
    return a * b


def div(a, b):
    return a / b  # bug: no guard against b == 0
