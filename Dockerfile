# The Inventory Twin application image: dataflows, API (with the dashboard), simulator.
# Kafka itself runs from the official apache/kafka image (see docker-compose.yml).
#   docker build -t inventory-twin .            # app image
#   docker build --target load -t inventory-twin-load .   # plus Locust, for load tests
FROM python:3.11-slim AS app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TWIN_STATE_DIR=/state \
    TWIN_MASTER_DATA=/app/examples/network.yaml

WORKDIR /app
# Dependencies first so that code edits do not reinstall them.
COPY pyproject.toml setup.py README.md constraints.txt ./
COPY twin ./twin
COPY dataflows ./dataflows
COPY simulator ./simulator
COPY api ./api
COPY cli ./cli
COPY infra ./infra
COPY loadtests ./loadtests
COPY examples ./examples
# gcc only to compile the core's hot path (mypyc, setup.py); removed once installed
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install -c constraints.txt . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 twin \
    && mkdir -p /state \
    && chown twin /state
USER twin
VOLUME ["/state"]
EXPOSE 8000
ENTRYPOINT ["invtwin"]
CMD ["--help"]

FROM app AS load
USER root
RUN pip install -c constraints.txt locust
USER twin
