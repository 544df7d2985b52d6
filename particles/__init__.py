"""The SGD side of fempde: unit models, data laws, SGD engines and the
cross-check against fempde's PDE solutions. Empty until the cross-check issues
land; it may import :mod:`fempde`, never the other way round."""

__all__: list[str] = []
