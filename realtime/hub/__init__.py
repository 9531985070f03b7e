"""The socket transport: connections, subscriptions, presence and fan-out to rooms."""
