# wikivis on the official Airflow image: Airflow 3.3.2 + the wikivis package (editable, so that
# the repository's sql/ directory stays next to it), pinned by the project's constraints.txt.
#
#   docker build -t wikivis-airflow .                                  # CPU torch (default)
#   docker build -t wikivis-airflow:gpu --build-arg TORCH_VARIANT=cu128 .  # CUDA torch for the GPU worker
#
# TORCH_VARIANT is a wheel tag of the PyTorch package index (cpu, cu126, cu128, ...).
# constraints.txt pins torch==<version>+cpu; that one line is swapped for the chosen variant.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

ARG TORCH_VARIANT=cpu
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/${TORCH_VARIANT}

USER airflow
WORKDIR /opt/wikivis

COPY --chown=airflow:root pyproject.toml constraints.txt README.md ./
COPY --chown=airflow:root wikivis ./wikivis
COPY --chown=airflow:root sql ./sql
# the GPU pod override the Kubernetes cluster policy reads (deploy/k8s/airflow_local_settings.py)
COPY --chown=airflow:root deploy/k8s ./deploy/k8s

RUN set -eux; \
    torch_version="$(sed -n 's/^torch==\([0-9.]*\).*/\1/p' constraints.txt)"; \
    grep -v '^torch==' constraints.txt > /tmp/constraints.txt; \
    if [ "${TORCH_VARIANT}" = "cpu" ]; then torch_pin="torch==${torch_version}+cpu"; else torch_pin="torch==${torch_version}"; fi; \
    pip install --no-cache-dir --extra-index-url "${TORCH_INDEX_URL}" -c /tmp/constraints.txt \
        "${torch_pin}" -e ".[airflow]"; \
    rm /tmp/constraints.txt; \
    python -c "import wikivis, torch; print('wikivis', wikivis.__version__, 'torch', torch.__version__)"

WORKDIR /opt/airflow
# dags/ and plugins/ are mounted by docker-compose.yml; a standalone image gets a copy.
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
ENV WIKIVIS_HOME=/opt/airflow/wikivis-data
