"""The evaluation lab: oracle, hand-verified truth, scoring, footage and sample images.

Used by the benchmarks and the tests; never imported by the device package.
"""
