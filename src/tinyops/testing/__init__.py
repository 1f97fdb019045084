"""Test tooling shipped with tinyops: the fuzzer and its reproducible mutations."""
