"""MNIST shared by the peer benchmarks (Benchmarks/peers) and the compiler's test fixtures
(tools/fixtures): the dataset reader, the numpy networks and their cached training."""
