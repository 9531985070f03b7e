"""Real-time: the Socket.IO hub, the change leader, and the pure event mapping."""
