"""Pure numerics on arrays: latent-space metrics and linear read-out accuracy. No Lightning, no files."""
