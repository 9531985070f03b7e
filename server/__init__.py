"""Formula PM server: settings, the app factory, auth, routes and the command line."""
