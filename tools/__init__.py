"""Command line, data formats, evaluation, benchmarks and synthetic data around the tracker."""
