"""Benchmarks and output-for-output checks against the original SORT and DeepSORT."""
