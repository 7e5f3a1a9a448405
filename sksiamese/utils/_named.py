"""Building a component (loss, miner) from its name and parameters."""

import inspect


def build_named(registry, name, kind, params):
    """``registry[name](**params)``, with a clear error for unknown parameters."""
    if name not in registry:
        raise ValueError(
            f"Unknown {kind} {name!r}; valid names are {sorted(registry)}."
        )
    cls = registry[name]
    accepted = sorted(inspect.signature(cls).parameters)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"{cls.__name__} ({kind} {name!r}) has no parameter "
            f"{', '.join(map(repr, unknown))}; its parameters are {accepted}."
        )
    return cls(**params)
