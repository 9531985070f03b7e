FROM python:3.11-slim
# pg_dump/pg_restore of the compose file's PostgreSQL major version (for `formula-pm backup`):
# from the PostgreSQL project's apt repository, as Debian ships only its own major version.
ARG PG_MAJOR=16
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-common ca-certificates \
    && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
    && apt-get install -y --no-install-recommends postgresql-client-${PG_MAJOR} \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY server ./server
COPY db ./db
COPY realtime ./realtime
COPY importer ./importer
COPY cli ./cli
COPY rules ./rules
COPY storage ./storage
COPY files ./files
RUN pip install --no-cache-dir -r requirements.lock && pip install --no-cache-dir --no-deps .
ENV HOST=0.0.0.0 PORT=5014
EXPOSE 5014
CMD ["formula-pm", "serve"]
