# One image for every role of docker-compose.yml: web (gunicorn), worker, beat, migrate and the
# Amazon SP-API simulator. Dependencies come from the hash-checked lock, as in `make install`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VAR_DIR=/app/var

WORKDIR /app
RUN useradd --create-home --uid 1000 app

# The lock holds the dev tools too (one lock for every install); they cost image size, not safety.
# GNU gettext's msgfmt compiles the French catalogue below.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*

COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY . .
# Static files are collected (and compressed and hashed by whitenoise) at build time. The secrets
# here exist only for this one command; the running containers get theirs from the environment.
RUN DEBUG=false \
    SECRET_KEY=collectstatic-only \
    FIELD_ENCRYPTION_KEY=ZGV2ZWxvcG1lbnQtb25seS1maWVsZC1rZXktMzJieXQ= \
    ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput \
    && python manage.py compilemessages -v 0 \
    && mkdir -p /app/var \
    && chown app:app /app/var

USER app
EXPOSE 8000
CMD ["gunicorn", "inventory_sync.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--worker-class", "gthread", "--threads", "4", "--access-logfile", "-"]
