"""Store-and-forward from an edge box to the command centre over NATS JetStream."""
