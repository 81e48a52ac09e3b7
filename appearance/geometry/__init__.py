"""Latent geometry of a VAE decoder, split by concept (as stochman splits its Manifold API):
`manifold` (the pull-back metric and decoded lengths), `metrics` (summaries of G), `graph`
(neighbour graphs and shortest paths), `geodesic` (curve refinement), `table1` (the paper's
Table 1 and query timing); `report`, `plots` and `pendulum` build the `track geometry` command
on them."""
