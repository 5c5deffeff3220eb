"""Newsletter sending speed: filled in once the newsletter's sending code lands."""


def measure(args, size, workdir, notes) -> list[dict]:
    notes.append("newsletter: n/a (sending code not there yet)")
    return []
