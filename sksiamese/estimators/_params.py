"""Routed hyper-parameters: ``module__*``, ``optimizer__*`` (and a subclass's
``loss__*`` / ``miner__*``) keywords kept on the estimator and reported by
``get_params`` as skorch reports them."""

_ROUTED_PREFIXES = ("module__", "optimizer__")


def is_auto(value):
    """Whether a parameter is left at "auto" (a value read from the backbone
    or the data at fit time); arrays and other non-strings never are."""
    return isinstance(value, str) and value == "auto"


class _RoutedParams:
    """``get_params`` / ``set_params`` with the routed keywords included."""

    _routed_prefixes = _ROUTED_PREFIXES

    def _set_routed(self, kwargs):
        for key, value in kwargs.items():
            if not key.startswith(self._routed_prefixes):
                raise TypeError(
                    f"{type(self).__name__}.__init__() got an unexpected keyword "
                    f"argument {key!r}; only parameters prefixed with "
                    f"{' or '.join(self._routed_prefixes)} are routed."
                )
            setattr(self, key, value)

    def _routed_params(self, prefix=""):
        return {
            key: value
            for key, value in vars(self).items()
            if key.startswith(self._routed_prefixes) and key.startswith(prefix)
        }

    def get_params(self, deep=True):
        """Get the hyper-parameters, routed ``module__*`` / ``optimizer__*`` included.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators (such as an
            ``encoder``), as ``<name>__<parameter>``.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        params.update(self._routed_params())
        return params

    def set_params(self, **params):
        """Set hyper-parameters, routed ones (``module__*`` ...) included.

        Parameters
        ----------
        **params : dict
            Parameter names mapped to their new values; routed names (``module__*``,
            ``optimizer__*``, ``loss__*``, ``miner__*``) take effect at the next
            ``fit``.

        Returns
        -------
        self : estimator
            The estimator.
        """
        routed = {
            k: v for k, v in params.items() if k.startswith(self._routed_prefixes)
        }
        for key, value in routed.items():
            setattr(self, key, value)
        return super().set_params(
            **{k: v for k, v in params.items() if k not in routed}
        )
