"""Data augmentation for training batches of flattened images.

An augmentation is a callable applied by the estimators to each training
batch, a float tensor of shape ``(batch, n_features)``, before the forward
pass (``augment=`` of :class:`~sksiamese.SiameseTransformer`). Labels are
never touched, and nothing is applied at ``transform`` or ``predict``.
"""

from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from .utils.validation import check_input_shape

__all__ = ["RandomAffine", "ShiftAveragedEmbedding"]


def _symmetric(value, name):
    """``v`` -> ``(-v, v)``; a ``(low, high)`` pair is checked and kept."""
    if isinstance(value, Real) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{name} must be >= 0 or a (low, high) pair, got {value}.")
        return (-float(value), float(value))
    return _pair(value, name)


def _pair(value, name):
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low, high) pair, got {value!r}.") from None
    if not low <= high:
        raise ValueError(f"{name} must have low <= high, got {value!r}.")
    return low, high


class RandomAffine:
    """Random affine distortions of flattened images, as in Koch et al. (2015).

    Each image of a batch gets its own random rotation, shear, scaling
    (independent for both axes) and translation, drawn uniformly from the
    given ranges, and is resampled with bilinear interpolation
    (:func:`torch.nn.functional.affine_grid` / ``grid_sample``); pixels
    moved in from outside the image are 0. With probability ``1 - p`` an
    image is left unchanged. Rows are reshaped to ``input_shape`` images
    and back, so batches stay ``(batch, n_features)``. Koch et al. drew
    rotations in [-10, 10] degrees, shears in [-0.3, 0.3], scales in
    [0.8, 1.2] and translations of up to 2 of 105 pixels.

    Parameters
    ----------
    rotation : float or (float, float), default=10.0
        Rotation in degrees, drawn from ``[-rotation, rotation]`` or the
        given ``(low, high)`` range.
    shear : float or (float, float), default=0.3
        Shear factor of each axis, from ``[-shear, shear]`` or ``(low,
        high)``, within (-1, 1).
    scale : (float, float), default=(0.8, 1.2)
        Range of the scale factor of each axis; ``(1, 1)`` disables scaling.
    translation : float or (float, float), default=0.1
        Shift along each axis as a fraction of the image size, from
        ``[-translation, translation]`` or ``(low, high)``.
    input_shape : tuple of int, default=(1, 28, 28)
        Shape ``(channels, height, width)`` (or ``(height, width)``) of one
        image in the flattened rows.
    p : float, default=1.0
        Probability that an image is transformed.
    random_state : int, RandomState instance or None, default=None
        An int seeds a generator of this object's own: the sequence of
        distortions is repeatable and independent of the global torch RNG.
        None draws from the global torch RNG, which the estimators seed
        from their ``random_state`` during ``fit``; so ``augment=
        RandomAffine()`` in an estimator with an int ``random_state`` gives
        repeatable fits, also on refitting the same object.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.augment import RandomAffine
    >>> augment = RandomAffine(input_shape=(1, 8, 8), random_state=0)
    >>> batch = torch.rand(5, 64)
    >>> out = augment(batch)
    >>> out.shape, out.dtype, bool(torch.equal(out, batch))
    (torch.Size([5, 64]), torch.float32, False)

    In an estimator, on the 8x8 digits:

    >>> from sksiamese import SiameseTransformer
    >>> model = SiameseTransformer(augment=RandomAffine(input_shape=(8, 8)))
    """

    def __init__(
        self,
        rotation=10.0,
        shear=0.3,
        scale=(0.8, 1.2),
        translation=0.1,
        input_shape=(1, 28, 28),
        p=1.0,
        random_state=None,
    ):
        self.rotation = rotation
        self.shear = shear
        self.scale = scale
        self.translation = translation
        self.input_shape = input_shape
        self.p = p
        self.random_state = random_state

    def __repr__(self):
        params = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in (
                "rotation",
                "shear",
                "scale",
                "translation",
                "input_shape",
                "p",
                "random_state",
            )
        )
        return f"{type(self).__name__}({params})"

    def _check_params(self):
        # validated at each call, not in __init__: parameters may be set
        # after construction, as with scikit-learn estimators
        rotation = _symmetric(self.rotation, "rotation")
        shear = _symmetric(self.shear, "shear")
        if max(abs(s) for s in shear) >= 1:
            # shears of +-1 on both axes make the map singular (not invertible)
            raise ValueError(f"shear must be within (-1, 1), got {self.shear!r}.")
        scale = _pair(self.scale, "scale")
        if scale[0] <= 0:
            raise ValueError(f"scale must be positive, got {self.scale!r}.")
        translation = _symmetric(self.translation, "translation")
        if not (isinstance(self.p, Real) and 0 <= self.p <= 1):
            raise ValueError(f"p must be in [0, 1], got {self.p!r}.")
        return rotation, shear, scale, translation

    def _generator(self):
        """This object's generator, or None for the global torch RNG."""
        if self.random_state is None:
            return None
        seeded_from = getattr(self, "_seeded_from", None)
        if seeded_from is not self.random_state and not (
            isinstance(seeded_from, Integral) and seeded_from == self.random_state
        ):
            # created on first use, and again when random_state is set to
            # another value, which then starts its own sequence
            if isinstance(self.random_state, Integral):
                seed = int(self.random_state)
            elif isinstance(self.random_state, np.random.RandomState):
                seed = int(self.random_state.randint(2**31))
            else:
                raise ValueError(
                    "random_state must be None, an int or a RandomState, got "
                    f"{self.random_state!r}."
                )
            self._torch_generator = torch.Generator().manual_seed(seed)
            self._seeded_from = self.random_state
        return self._torch_generator

    def __getstate__(self):
        state = self.__dict__.copy()
        if "_torch_generator" in state:
            # keep the generator's state (a plain tensor), so that a pickled
            # or deep-copied object continues the same sequence
            state["_torch_generator"] = state["_torch_generator"].get_state()
        return state

    def __setstate__(self, state):
        generator = state.get("_torch_generator")
        if generator is not None:
            state["_torch_generator"] = torch.Generator()
            state["_torch_generator"].set_state(generator)
        self.__dict__.update(state)

    def __call__(self, X):
        """Distort a batch of flattened images.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, n_features)
            Flattened images, floating point.

        Returns
        -------
        X_out : torch.Tensor of shape (batch, n_features)
            The distorted images, same dtype and device as ``X``.
        """
        rotation, shear, scale, translation = self._check_params()
        if X.ndim != 2:
            raise ValueError(
                f"RandomAffine expects a batch of rows (batch, n_features), got "
                f"shape {tuple(X.shape)}."
            )
        channels, height, width = check_input_shape(self.input_shape, X.shape[1])
        n = len(X)
        if self.p == 0 or not n:
            return X
        # drawn on the CPU in float64 whatever the batch: the same seed gives
        # the same distortions on every device and dtype
        u = torch.rand(n, 8, generator=self._generator(), dtype=torch.float64)

        def uniform(column, bounds):
            return bounds[0] + (bounds[1] - bounds[0]) * u[:, column]

        angle = torch.deg2rad(uniform(0, rotation))
        shear_x, shear_y = uniform(1, shear), uniform(2, shear)
        scale_x, scale_y = uniform(3, scale), uniform(4, scale)
        # a shift by a fraction f of the size is 2 f in grid coordinates,
        # which run from -1 to 1 across the image
        shift = torch.stack([uniform(5, translation), uniform(6, translation)], 1) * 2
        apply = u[:, 7] < self.p

        # forward map in pixel units around the centre: rotate . shear . scale
        cos, sin = torch.cos(angle), torch.sin(angle)
        rotate = torch.stack([cos, -sin, sin, cos], 1).reshape(n, 2, 2)
        ones = torch.ones(n, dtype=torch.float64)
        shear_m = torch.stack([ones, shear_x, shear_y, ones], 1).reshape(n, 2, 2)
        zeros = torch.zeros(n, dtype=torch.float64)
        scale_m = torch.stack([scale_x, zeros, zeros, scale_y], 1).reshape(n, 2, 2)
        forward = rotate @ shear_m @ scale_m
        # in grid coordinates (x scaled by 2 / width, y by 2 / height), so that
        # rotations stay rotations on non-square images
        half = torch.tensor([width / 2, height / 2], dtype=torch.float64)
        forward = forward * half[None, None, :] / half[None, :, None]
        # affine_grid maps each output pixel to where it is read in the input:
        # the inverse of the forward map
        inverse = torch.linalg.inv(forward)
        offset = -(inverse @ shift[:, :, None])
        theta = torch.cat([inverse, offset], 2)

        dtype = X.dtype if X.is_floating_point() else torch.float32
        images = X.reshape(n, channels, height, width).to(dtype)
        theta = theta.to(device=X.device, dtype=dtype)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        out = F.grid_sample(
            images, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        out = out.reshape(n, -1).to(X.dtype)
        # untransformed images are returned exactly, not resampled
        return torch.where(apply[:, None].to(X.device), out, X)


class ShiftAveragedEmbedding(TransformerMixin, BaseEstimator):
    """Test-time augmentation: embeddings averaged over shifted copies of images.

    ``transform`` embeds each image as it is and moved by ``-shift`` and
    ``+shift`` pixels along each axis (the freed border is filled with
    zeros), and returns the mean of the five embeddings. A one-shot support
    image then stands for a small neighbourhood of its class instead of a
    single point, which makes nearest-neighbour decisions less sensitive to
    where a stroke happens to sit. It wraps an already fitted ``estimator``:
    ``fit`` only records the input size.

    Parameters
    ----------
    estimator : fitted estimator with ``transform``
        Embeds flattened images, e.g. a fitted
        :class:`~sksiamese.SiameseTransformer` with a
        :class:`~sksiamese.modules.ConvNet` backbone.
    input_shape : tuple of int
        Shape ``(channels, height, width)`` or ``(height, width)`` of one
        image, in the order of the flattened rows.
    shift : int, default=1
        Pixels each copy is moved by.

    Attributes
    ----------
    n_features_in_ : int
        Values per image.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sksiamese.augment import ShiftAveragedEmbedding
    >>> X = np.random.RandomState(0).rand(20, 16)
    >>> pca = PCA(n_components=3).fit(X)
    >>> tta = ShiftAveragedEmbedding(pca, input_shape=(4, 4)).fit(X)
    >>> tta.transform(X[:2]).shape
    (2, 3)
    """

    def __init__(self, estimator, input_shape, shift=1):
        self.estimator = estimator
        self.input_shape = input_shape
        self.shift = shift

    def fit(self, X, y=None):
        """Check the image shape against ``X``; the estimator stays as it is.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Flattened images.
        y : None
            Ignored.

        Returns
        -------
        self : ShiftAveragedEmbedding
            This object.
        """
        X = check_array(X, dtype=[np.float32, np.float64])
        check_input_shape(self.input_shape, X.shape[1])
        if not (isinstance(self.shift, Integral) and self.shift >= 1):
            raise ValueError(f"shift must be a positive integer, got {self.shift!r}.")
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        """Mean embedding of each image and its four shifted copies.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Flattened images.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Averaged embeddings.
        """
        check_is_fitted(self)
        X = check_array(X, dtype=[np.float32, np.float64])
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} was "
                f"fitted with {self.n_features_in_}."
            )
        images = X.reshape(len(X), *check_input_shape(self.input_shape))
        # a copy: an estimator may return its input (the identity) itself
        total = np.array(self.estimator.transform(X), dtype=np.float64)
        s = self.shift
        for axis, step in [(2, s), (2, -s), (3, s), (3, -s)]:
            moved = np.zeros_like(images)
            src = [slice(None)] * 4
            dst = [slice(None)] * 4
            src[axis] = slice(0, -step) if step > 0 else slice(-step, None)
            dst[axis] = slice(step, None) if step > 0 else slice(0, step)
            moved[tuple(dst)] = images[tuple(src)]
            total += self.estimator.transform(moved.reshape(len(X), -1))
        return (total / 5).astype(np.float32)
