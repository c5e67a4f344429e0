"""scikit-learn's estimator plumbing for the knowledge-tracing models, without scikit-learn.

:class:`BKT` runs in every student's kernel (the widgets' mastery and the tutor's level of a
learner), where importing ``sklearn.base`` took scikit-learn, SciPy and pandas along: seconds
before the first tutor answer or exercise feedback. :class:`Parameters` gives the same
contract as ``sklearn.base.BaseEstimator``'s parameters (``get_params``, ``set_params``, a
repr of the changed settings; ``sklearn.base.clone`` works on it), and :func:`check_fitted`
raises scikit-learn's own ``NotFittedError``, importing it only then.
"""

from __future__ import annotations

import inspect
from typing import Any


class Parameters:
    """``get_params``/``set_params``/``__repr__`` from the constructor's arguments, which
    ``__init__`` stores unchanged under their own names (scikit-learn's rule)."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(
            name
            for name, p in signature.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments (``deep``: those of nested estimators too, as
        ``<name>__<parameter>``)."""
        params = {}
        for name in self._param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            params[name] = value
        return params

    def set_params(self, **params: Any) -> Parameters:
        """Set constructor arguments; ``ValueError`` naming an unknown one. Returns self."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {valid!r}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [
            f"{name}={getattr(self, name)!r}"
            for name in self._param_names()
            if repr(getattr(self, name)) != repr(defaults[name].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"


def check_fitted(model: Any, attribute: str) -> None:
    """scikit-learn's ``NotFittedError`` if ``model`` lacks the fitted ``attribute``."""
    if not hasattr(model, attribute):
        from sklearn.exceptions import NotFittedError  # only on this mistake: seconds to import

        raise NotFittedError(
            f"This {type(model).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator."
        )
