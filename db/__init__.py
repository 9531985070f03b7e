"""Database layer: schema, migrations, the connection pool and queries per resource."""
