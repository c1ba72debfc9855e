"""Layer 1, the nets and their dynamics: layered, conv and prototypical nets (one `Net` protocol),
the relaxation routine, activations, init and noise. Imports only frecore.config."""
