"""ML assist: backbones, featurization, heads, calibration, clustering, box, polygon and
mask suggestions. Numbers in, numbers out: no ports, no documents; `core.services.assist` feeds it.

Only the assist worker imports this package (it needs `requirements-assist.txt`)."""
